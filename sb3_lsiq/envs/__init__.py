"""Small environments of the package's experiments, registered with gymnasium on import
(rl-zoo3: ``--gym-packages sb3_lsiq.envs``).

- ``GoalReach-v0``: reach a goal, where the episode terminates; the survival-bias experiment of BENCHMARKS.md.
"""

from gymnasium.envs.registration import register, registry

from sb3_lsiq.envs.goal_reach import GoalReachEnv, ScriptedGoalReacher

if "GoalReach-v0" not in registry:
    register(id="GoalReach-v0", entry_point="sb3_lsiq.envs.goal_reach:GoalReachEnv", max_episode_steps=200)

# env id -> the scripted expert that records its demonstrations (python -m sb3_lsiq.experts record --model scripted)
SCRIPTED_EXPERTS = {"GoalReach-v0": ScriptedGoalReacher}

__all__ = ["SCRIPTED_EXPERTS", "GoalReachEnv", "ScriptedGoalReacher"]
