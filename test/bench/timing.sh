# Timing helpers sourced by the bench scripts.
#   now           the time, in seconds with nanoseconds
#   since T       seconds since T, one line (so that a file of them has one timing a line)
#   median        the median of the numbers on stdin, one a line
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.3f\n", b-a}'; }
median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print "-"; else print v[int((n + 1) / 2)] }'; }
