#!/usr/bin/env bash
# The README's flag and decision-key tables are generated from the tables
# the parsers use (`saturation-scaler docs flags|keys`); this fails when the
# README has drifted. `docs_check.sh BINARY README --fix` rewrites them.
set -euo pipefail
bin=$1 readme=$2 fix=${3:-}
status=0
for kind in flags keys; do
  want=$("$bin" docs "$kind")
  have=$(sed -n "/<!-- $kind:begin -->/,/<!-- $kind:end -->/p" "$readme" | sed '1d;$d')
  if [ "$want" != "$have" ]; then
    if [ "$fix" = "--fix" ]; then
      python3 - "$readme" "$kind" "$want" <<'PY'
import sys
path, kind, want = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(path).read()
b, e = "<!-- %s:begin -->" % kind, "<!-- %s:end -->" % kind
i, j = s.index(b) + len(b), s.index(e)
open(path, "w").write(s[:i] + "\n" + want + "\n" + s[j:])
PY
      echo "docs_check: README $kind table regenerated"
    else
      echo "docs_check: the README's $kind table differs from \`saturation-scaler docs $kind\`:" >&2
      diff <(echo "$have") <(echo "$want") >&2 || true
      status=1
    fi
  fi
done
[ $status = 0 ] && echo "docs_check: README tables match the binary"
exit $status
