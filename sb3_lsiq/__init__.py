"""sb3-lsiq: LS-IQ and IQ-Learn imitation learning for Stable-Baselines3."""

import sb3_lsiq.envs  # noqa: F401  (registers the package's small envs, e.g. GoalReach-v0, with gymnasium)
from sb3_lsiq.adversarial import GAIL, VAIL
from sb3_lsiq.common.demonstrations import Demonstrations, load_demonstrations
from sb3_lsiq.common.observation_map import ObservationMap
from sb3_lsiq.iqlearn import IQLearn
from sb3_lsiq.lsiq import LSIQ
from sb3_lsiq.sqil import SQIL

__version__ = "0.1.0"

__all__ = [
    "GAIL",
    "LSIQ",
    "SQIL",
    "VAIL",
    "Demonstrations",
    "IQLearn",
    "ObservationMap",
    "__version__",
    "load_demonstrations",
]
