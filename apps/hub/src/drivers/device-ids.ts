/** The id of the n-th (0-based) device of a simulated group: sim-001, sim-002, … */
export function simulatedId(prefix: string, n: number): string {
  return `${prefix}${String(n + 1).padStart(3, '0')}`;
}
