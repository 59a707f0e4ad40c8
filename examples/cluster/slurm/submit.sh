#!/bin/bash
# Queue N shards of the matrix and the report after them:  examples/cluster/slurm/submit.sh [N]
# Re-running it is safe: completed runs are skipped, interrupted ones continue from their checkpoints.
set -euo pipefail
N=${1:-8}
cd "$(dirname "$0")/../../.."
mkdir -p logs
shards=$(LVIT_SHARDS=$N sbatch --parsable --array=0-$((N - 1)) examples/cluster/slurm/shards.sbatch)
# afterany, not afterok: a report of the runs that did finish is still worth having (it shows only
# those), and a failed shard K can be resubmitted alone: LVIT_SHARDS=N sbatch --array=K-1 ...
sbatch --dependency=afterany:"$shards" examples/cluster/slurm/report.sbatch
