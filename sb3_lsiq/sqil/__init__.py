from sb3_lsiq.sqil.policies import MlpPolicy, SQILPolicy
from sb3_lsiq.sqil.sqil import SQIL

__all__ = ["SQIL", "MlpPolicy", "SQILPolicy"]
