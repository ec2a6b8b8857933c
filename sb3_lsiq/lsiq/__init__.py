from sb3_lsiq.lsiq.lsiq import LSIQ
from sb3_lsiq.lsiq.policies import LSIQPolicy, MlpPolicy

__all__ = ["LSIQ", "LSIQPolicy", "MlpPolicy"]
