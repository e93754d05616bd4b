#!/usr/bin/env python3
"""count.py DUMP N: instructions per request in a callgrind dump of N requests,
and calls per request of the allocator and memcpy."""
import re, sys
path, n = sys.argv[1], int(sys.argv[2])
names = {}
total = None
calls = {}
cur = None
watch = {"malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memmove", "memcpy", "__memmove_avx_unaligned_erms", "__memcpy_avx_unaligned_erms", "clock_gettime", "__clock_gettime", "__memmove_avx_unaligned", "__memmove_sse2_unaligned_erms"}
for line in open(path, errors="replace"):
    if line.startswith("cfn="):
        m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.strip())
        if m:
            i, name = m.group(1), m.group(2)
            if name: names[i] = name
            cur = names.get(i, "?")
        continue
    if line.startswith("fn="):
        m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.strip())
        if m and m.group(2): names[m.group(1)] = m.group(2)
        continue
    if line.startswith("calls="):
        c = int(line.split("=")[1].split()[0])
        if cur is not None:
            calls[cur] = calls.get(cur, 0) + c
        continue
    if line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
print(f"instructions/req {total / n:,.0f}")
for k in sorted(calls):
    base = k.split("'")[0]
    if base in watch or "memmove" in base or "memcpy" in base:
        print(f"  {k}: {calls[k] / n:.2f}/req")
