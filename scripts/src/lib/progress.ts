/** "what: done/total" at most every 5 s and once at the end (long loops: dataset preparation, predict). */
export function progressLogger(what: string, log: (m: string) => void): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done === total || now - last > 5000) {
      last = now;
      log(`${what}: ${done}/${total}`);
    }
  };
}
