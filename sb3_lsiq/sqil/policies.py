from sb3_lsiq.common.policies import IQPolicy


class SQILPolicy(IQPolicy):
    """Policy class (tanh-Gaussian actor and soft-Q critic) for SQIL; see :class:`~sb3_lsiq.common.policies.IQPolicy`."""


MlpPolicy = SQILPolicy
