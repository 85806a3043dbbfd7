// A bump arena that grows linear memory by exactly the pages it needs. The stub runtime's allocator doubles
// memory when it grows, which would turn a 36 MB source copy into a 72 MB instance; a kernel instance lives
// for one call, so it never frees and only ever asks for what the plan needs.

let top: usize = (__heap_base + 15) & ~(<usize>15);

/** Reserves `bytes` (16-byte aligned, uninitialised) and returns its address; traps if memory cannot grow. */
export function take(bytes: usize): usize {
  const ptr = top;
  const end = (ptr + bytes + 15) & ~(<usize>15);
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) unreachable();
  }
  top = end;
  return ptr;
}
