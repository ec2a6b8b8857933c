from sb3_lsiq.common.policies import IQPolicy


class LSIQPolicy(IQPolicy):
    """Policy class (tanh-Gaussian actor and soft-Q critic) for LSIQ; see :class:`~sb3_lsiq.common.policies.IQPolicy`."""


MlpPolicy = LSIQPolicy
