#!/usr/bin/env python3
"""Adds missing platform-specific optional packages to package-lock.json.

The npm registry mirror these machines use lacks other platforms' builds of some packages
(e.g. @biomejs/cli-darwin-arm64 at the version we lock), so npm leaves them out of the lock
and `npm ci` then refuses the lock as out of sync. Their os/cpu/libc follow from their
names; npm skips them on other platforms without fetching anything, and fetches them by
version on the platforms they are for. Run after `npm install` changes the lock.
"""
import json
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else 'package-lock.json'
lock = json.load(open(path))
packages = lock['packages']
added = []
for name, entry in list(packages.items()):
    for dep, version in (entry.get('optionalDependencies') or {}).items():
        key = f'node_modules/{dep}'
        if key in packages:
            continue
        m = re.search(r'(android|darwin|linux|win32|freebsd|openbsd|sunos|aix)-(x64|arm64|arm|ia32|ppc64|s390x|riscv64)(-(musl|gnu|msvc))?$', dep)
        if not m or not re.fullmatch(r'\d+\.\d+\.\d+', version):
            continue
        item = {'version': version, 'cpu': [m.group(2)], 'os': [m.group(1)], 'optional': True}
        if m.group(4) in ('musl', 'gnu'):
            item['libc'] = [m.group(4) if m.group(4) == 'musl' else 'glibc']
        if entry.get('dev'):
            item['dev'] = True
        packages[key] = item
        added.append(f'{dep}@{version}')
json.dump(lock, open(path, 'w'), indent=2)
open(path, 'a').write('\n')
print(f'added {len(added)} platform entries: {", ".join(added)}' if added else 'lock already complete')
