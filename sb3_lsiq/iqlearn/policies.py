from sb3_lsiq.common.policies import IQPolicy


class IQLearnPolicy(IQPolicy):
    """Policy class (tanh-Gaussian actor and soft-Q critic) for IQ-Learn; see :class:`~sb3_lsiq.common.policies.IQPolicy`."""


MlpPolicy = IQLearnPolicy
