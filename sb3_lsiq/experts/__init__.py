"""The expert pipeline: train an expert with rl-zoo3, evaluate it, record demonstrations.

    python -m sb3_lsiq.experts train    --env Hopper-v5 [-n 400000] [-i logs/experts/sac/Hopper-v5_1/rl_model_...zip]
    python -m sb3_lsiq.experts evaluate --env Hopper-v5 --model logs/experts/sac/Hopper-v5_1
    python -m sb3_lsiq.experts record   --env Hopper-v5 --model logs/experts/sac/Hopper-v5_1 --episodes 25

``train`` runs ``python -m rl_zoo3.train`` with rl-zoo3's own tuned settings for the env (for SAC the packaged
``hyperparams/experts/sac.yml``: rl-zoo3's MuJoCo SAC settings copied to the v5 ids), one torch thread, periodic
evaluation and checkpoints, so a run can be continued in a later session with ``-i <checkpoint>``.
``record`` writes the native ``.npz`` and imitation's on-disk format, with provenance metadata.
"""

from sb3_lsiq.experts.pipeline import evaluate_expert, load_expert, record_dataset, train_command

__all__ = ["evaluate_expert", "load_expert", "record_dataset", "train_command"]
