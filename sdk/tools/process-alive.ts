// Whether a process exists: signal 0 checks without sending anything. EPERM means it exists but is
// not ours to signal. A zombie counts as alive (it holds its pid until reaped).
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
