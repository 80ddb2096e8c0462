# torch_lib.sh — what bench/train.sh and bench/sample.sh share (sourced; needs $root and
# $python set): reading their output lines and running a PyTorch baseline under one of
# the thread settings their headers list (1/1, 2/2, 1/all — PyTorch's default — 2/all).

# field LINE KEY: the value of KEY=value in a bench output line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# torch_setting SCRIPT SETTING ARGS...: bench/SCRIPT under a thread setting
torch_setting() {
	local script=$root/bench/$1 s=$2
	shift 2
	case $s in
	1/1) env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
		"$python" "$script" --threads 1 "$@" ;;
	2/2) env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
		"$python" "$script" --threads 2 "$@" ;;
	1/all) env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS -u OMP_WAIT_POLICY OMP_NUM_THREADS=1 \
		"$python" "$script" --threads 1 "$@" ;;
	2/all) env -u OPENBLAS_NUM_THREADS -u GOTO_NUM_THREADS OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
		"$python" "$script" --threads 2 "$@" ;;
	*) echo "torch_setting: unknown thread setting '$s'" >&2; return 1 ;;
	esac
}
