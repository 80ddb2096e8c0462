#!/usr/bin/env bash
# The layering of the programs, checked on the build itself: the daemon uses nothing
# of workers/ and the CLI nothing of daemon/ (tasks/ is what they share). Three
# views, each of which catches what the others could miss:
#   - the sources: no daemon/ file names a workers/ path in an #include, no cli/ file
#     a daemon/ path;
#   - the build flags (compile_commands.json): no daemon/ source is compiled with an
#     include directory of workers/ (what depending on workers_dep would add), no
#     cli/ source with one of daemon/; r1flowd's link does not take the workers'
#     library, r1flow's not the daemon's;
#   - the headers each object file was actually built from (ninja's deps log, the
#     compiler's own resolution of every #include): none of a daemon/ object's is in
#     workers/, none of a cli/ object's in daemon/.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_BUILD_ROOT:?set R1FLOW_BUILD_ROOT to the meson build directory}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$R1FLOW_BUILD_ROOT
command -v ninja >/dev/null || fail "ninja is not on PATH (it reads the build's deps log)"
[[ -f $B/compile_commands.json ]] || fail "no compile_commands.json in '$B'"

# --- the sources
if grep -nE '^\s*#\s*include\s*[<"]([^">]*/)?workers/' "$SRC"/daemon/*.[ch] >"$T/bad"; then
	cat "$T/bad"
	fail "a daemon/ file includes a header by a workers/ path"
fi
if grep -nE '^\s*#\s*include\s*[<"]([^">]*/)?daemon/' "$SRC"/cli/*.[ch] >"$T/bad"; then
	cat "$T/bad"
	fail "a cli/ file includes a header by a daemon/ path"
fi

# --- the build flags, and the objects' headers
ninja -C "$B" -t deps >"$T/deps" || fail "ninja -t deps failed in '$B'"
ninja -C "$B" -t commands daemon/r1flowd | tail -n 1 >"$T/link-r1flowd" ||
	fail "ninja knows no target daemon/r1flowd"
ninja -C "$B" -t commands cli/r1flow | tail -n 1 >"$T/link-r1flow" ||
	fail "ninja knows no target cli/r1flow"
/usr/bin/python3 - "$SRC" "$B" "$T" <<'PY' || fail "the layering is broken (above)"
import json, os, shlex, sys
src, build, tmp = (os.path.realpath(p) for p in sys.argv[1:4])
# (the directory whose sources are checked, the directory they must not use)
rules = [("daemon", "workers"), ("cli", "daemon")]
bad = []

def under(path, d):
    path = os.path.realpath(path)
    return any(path == os.path.join(root, d) or path.startswith(os.path.join(root, d) + os.sep)
               for root in (src, build))

seen = {d: 0 for d, _ in rules}
for e in json.load(open(os.path.join(build, "compile_commands.json"))):
    f = os.path.realpath(os.path.join(e["directory"], e["file"]))
    args = e.get("arguments") or shlex.split(e["command"])
    for d, banned in rules:
        if not under(f, d):
            continue
        seen[d] += 1
        incs = [a[2:] for a in args if a.startswith("-I") and len(a) > 2]
        incs += [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-I", "-isystem", "-iquote")]
        for inc in incs:
            if under(os.path.join(e["directory"], inc), banned):
                bad.append(f"{os.path.relpath(f, src)} is compiled with -I{inc} ({banned}/)")
                break
for d, n in seen.items():
    if n == 0:
        bad.append(f"compile_commands.json lists no source of {d}/")

for exe, banned in (("r1flowd", "libr1workers"), ("r1flow", "libr1daemon")):
    link = open(os.path.join(tmp, "link-" + exe)).read()
    if banned not in link and exe in link:
        continue
    bad.append(f"{exe} links {banned}" if banned in link else f"no link command for {exe}")

# ninja -t deps: "OBJ: #deps N, ..." then one indented header per line
obj, nobj = None, {d: 0 for d, _ in rules}
for line in open(os.path.join(tmp, "deps")):
    if not line.strip():
        continue
    if not line[0].isspace():
        obj = line.split(":")[0]
        continue
    dep = os.path.join(build, line.strip())
    for d, banned in rules:
        # the objects of daemon/ and cli/ live in build/daemon/..., build/cli/...
        if obj.startswith(d + "/") and under(dep, banned):
            bad.append(f"{obj} was built from {os.path.relpath(os.path.realpath(dep), src)}")
for line in open(os.path.join(tmp, "deps")):
    for d, _ in rules:
        if line.startswith(d + "/"):
            nobj[d] += 1
for d, n in nobj.items():
    if n == 0:
        bad.append(f"ninja's deps log has no object of {d}/ (build first)")

for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
log "daemon/ uses nothing of workers/, cli/ nothing of daemon/ (sources, flags, link, headers)"
