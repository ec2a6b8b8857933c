from sb3_lsiq.iqlearn.iqlearn import IQLearn
from sb3_lsiq.iqlearn.policies import IQLearnPolicy, MlpPolicy

__all__ = ["IQLearn", "IQLearnPolicy", "MlpPolicy"]
