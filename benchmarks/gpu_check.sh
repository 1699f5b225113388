#!/usr/bin/env bash
# The CUDA check for a lent GPU machine, run from the repository root there:
#   bash benchmarks/gpu_check.sh OUT_DIR [SECONDS]
# 1. every plugin's default job (`sslkit pretrain <domain>`: CUDA, bf16 autocast), one at a
#    time, so their times are their own;
# 2. then, with what is left, the molecules protocol on CUDA: GraphMAE for the authors' 100
#    passes of the embedded ZINC (stopped by SIGTERM at its deadline, which checkpoints), and
#    fine-tuning seeds of it and of no pretraining (benchmarks/molecules.py --device cuda).
# Everything lands in OUT_DIR/pack.tgz when the script ends, whatever ended it: logs, the
# timeline and benchmarks/results/molecules-gpu-*.json. Python packages the machine lacks go
# on PYTHONPATH before it starts (the plugins' entry points need their dist-info folders).
set -u
OUT_DIR=${1:?usage: gpu_check.sh OUT_DIR [SECONDS]}
BUDGET=${2:-540}
L=/tmp/gpu-check; rm -rf $L /tmp/gpu-runs /tmp/gpu-jobs; mkdir -p $L /tmp/gpu-runs
export SSLKIT_CACHE=${SSLKIT_CACHE:-/tmp/gpu-cache} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
# seconds left, a part of them (${1:-1} = 2: half), at least 1: `timeout 0` would never stop
left() { local s=$(((BUDGET - 15 - SECONDS) / ${1:-1})); echo $((s > 1 ? s : 1)); }
stamp() { echo "$(date +%T) t=$SECONDS $*" | tee -a $L/timeline.txt; }
pack() {
    cp benchmarks/results/molecules-gpu-*.json $L/ 2>/dev/null
    cp /tmp/gpu-runs/graphmae100/metrics.jsonl $L/graphmae100-metrics.jsonl 2>/dev/null
    tar czf "$OUT_DIR/pack.tgz" -C $L .
}
trap pack EXIT
nvidia-smi -L > $L/gpu.txt 2>&1; nproc >> $L/gpu.txt
stamp start
for d in tabular events graphs molecules recsys speech medical; do
    stamp "job $d start"
    timeout -k 10 $(( $(left) < 150 ? $(left) : 150 )) python3 -m sslkit.cli pretrain $d \
        --set train.out=/tmp/gpu-jobs > $L/job-$d.log 2>&1
    stamp "job $d end rc=$?"
done
B="python3 benchmarks/molecules.py --device cuda --no-throughput --seeds 1 --datasets bbbp esol"
stamp "graphmae pretraining start"
timeout -k 20 -s TERM $(left 2) python3 -m sslkit.cli pretrain molecules -m graphmae \
    --set train.epochs=100 --set train.min_steps=0 --set train.num_workers=4 \
    --set train.out=/tmp/gpu-runs --name graphmae100 --no-evaluate > $L/pretrain.log 2>&1
stamp "graphmae pretraining end rc=$?"
for s in 0 1 2 3; do  # each step builds a batch of 32 graphs on the CPU: few processes
    OMP_NUM_THREADS=2 timeout $(left) $B --methods graphmae none \
        --run graphmae=/tmp/gpu-runs/graphmae100 --seed-from $s --tag gpu-$s > $L/ft-$s.log 2>&1 &
done
wait
stamp "fine-tuning end"
tail -n 3 $L/job-*.log $L/pretrain.log
grep -h "seed" $L/ft-*.log || true
