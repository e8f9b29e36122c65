/**
 * A timestamptz column rendered as the API's time format (ISO-8601 in UTC with milliseconds,
 * `2026-11-23T10:00:00.000Z`), formatted by PostgreSQL so that rows go straight to JSON.
 */
export const isoUtc = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
