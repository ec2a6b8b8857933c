"""GAIL and VAIL as SB3 algorithms: PPO generators with a discriminator reward, driven like any SB3 algorithm
(rl-zoo3 included). The LocoMuJoCo imitation baselines (algorithms.md §1 and §3.5)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from torch import nn

from sb3_lsiq.adversarial.discriminator import DISCRIMINATOR_INPUTS, Discriminator
from sb3_lsiq.adversarial.reward_wrapper import DiscriminatorRewardVecEnv
from sb3_lsiq.common.demonstrations import EPISODE_END_RULES
from sb3_lsiq.common.expert_buffer import ExpertBuffer, build_expert_buffer
from sb3_lsiq.common.losses import discriminator_loss, dual_beta_update

SelfAdversarialImitation = TypeVar("SelfAdversarialImitation", bound="AdversarialImitation")


class AdversarialImitation(PPO):
    """Adversarial imitation on a PPO generator: GAIL (Ho & Ermon, NeurIPS 2016) and, with a variational
    discriminator bottleneck, VAIL (Peng et al., "Variational Discriminator Bottleneck", ICLR 2019).

    Every step the generator gets the reward -log(1 - D(s, a)) of the current discriminator (through a VecEnv
    wrapper, so PPO's time-limit bootstrap uses it too); before each PPO update the discriminator takes
    ``discriminator_epochs`` passes over the rollout, each minibatch of rollout rows joined by as many expert
    rows in one forward, minimising the binary cross-entropy (expert 1, policy 0). With ``latent_dim`` set, the
    loss adds beta (KL(code || N(0, I)) - I_c) and beta follows the dual update max(0, beta + lr_beta (KL - I_c)).
    The reward's positive sign rewards survival on terminating tasks, as in GAIL: LSIQ and IQ-Learn do not.

    :param policy: The policy model to use (MlpPolicy, ...), as for PPO
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param demonstrations: expert demonstrations, any source :func:`sb3_lsiq.load_demonstrations` accepts (actions are
        needed with ``discriminator_inputs="state_action"``); loaded when learning starts, never saved in the zip
    :param discriminator_inputs: ``"state_action"`` (D(s, a), GAIL) or ``"state"`` (D(s), LocoMuJoCo's baselines;
        works with demonstrations without actions)
    :param discriminator_kwargs: ``net_arch`` (hidden sizes, [256, 256]; VAIL's encoder), ``decoder_arch`` (VAIL's
        decoder, none), ``activation_fn`` (tanh)
    :param discriminator_learning_rate: Adam's learning rate of the discriminator
    :param discriminator_batch_size: rollout rows per discriminator minibatch (as many expert rows join them)
    :param discriminator_epochs: passes over each rollout before the PPO update
    :param latent_dim: size of VAIL's code (None: no bottleneck, GAIL)
    :param information_constraint: VAIL's I_c, the KL the code is held near (LocoMuJoCo: 0.1)
    :param beta_init: VAIL's initial bottleneck weight
    :param beta_learning_rate: lr_beta of VAIL's dual update (LocoMuJoCo: 1e-5)
    :param demo_episode_end: how unlabelled episode ends in the demonstrations are read (``"auto"``,
        ``"terminated"``, ``"truncated"``; see the README)
    :param n_demo_episodes: use only the first ``n_demo_episodes`` episodes (None: all)
    :param kwargs: every other PPO argument (``learning_rate``, ``n_steps``, ``batch_size``, ``n_epochs``, ``gamma``,
        ``gae_lambda``, ``clip_range``, ``ent_coef``, ``policy_kwargs``, ``tensorboard_log``, ``verbose``, ``seed``,
        ``device``, ...) and ``_init_setup_model``
    """

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str | None,
        demonstrations: Any = None,
        discriminator_inputs: str = "state_action",
        discriminator_kwargs: dict[str, Any] | None = None,
        discriminator_learning_rate: float = 3e-4,
        discriminator_batch_size: int = 256,
        discriminator_epochs: int = 1,
        latent_dim: int | None = None,
        information_constraint: float = 0.1,
        beta_init: float = 0.1,
        beta_learning_rate: float = 1e-5,
        demo_episode_end: str = "auto",
        n_demo_episodes: int | None = None,
        _init_setup_model: bool = True,
        **kwargs: Any,
    ) -> None:
        self.demonstrations = demonstrations
        self.discriminator_inputs = discriminator_inputs
        self.discriminator_kwargs = discriminator_kwargs
        self.discriminator_learning_rate = discriminator_learning_rate
        self.discriminator_batch_size = discriminator_batch_size
        self.discriminator_epochs = discriminator_epochs
        self.latent_dim = latent_dim
        self.information_constraint = information_constraint
        self.beta_init = beta_init
        self.beta_learning_rate = beta_learning_rate
        self.demo_episode_end = demo_episode_end
        self.n_demo_episodes = n_demo_episodes
        self.expert_buffer: ExpertBuffer | None = None
        super().__init__(policy, env, _init_setup_model=False, **kwargs)  # type: ignore[arg-type]
        self._wrap_reward()
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------------------------------------------

    def _validate_options(self) -> None:
        if self.discriminator_inputs not in DISCRIMINATOR_INPUTS:
            raise ValueError(
                f"discriminator_inputs={self.discriminator_inputs!r} is not one of {', '.join(DISCRIMINATOR_INPUTS)}."
            )
        if self.demo_episode_end not in EPISODE_END_RULES:
            raise ValueError(f"demo_episode_end={self.demo_episode_end!r} is not one of {', '.join(EPISODE_END_RULES)}.")
        for name in ("discriminator_batch_size", "discriminator_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.latent_dim is not None and self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1 (VAIL) or None (GAIL), got {self.latent_dim}.")
        for name in ("information_constraint", "beta_init", "beta_learning_rate", "discriminator_learning_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}.")
        if not isinstance(self.action_space, spaces.Box):
            raise ValueError(f"{type(self).__name__} supports continuous (Box) action spaces only, got {self.action_space}.")

    def _setup_model(self) -> None:
        self._validate_options()
        super()._setup_model()
        kwargs = dict(self.discriminator_kwargs or {})
        unknown = set(kwargs) - {"net_arch", "decoder_arch", "activation_fn"}
        if unknown:
            raise ValueError(
                f"Unknown discriminator_kwargs {sorted(unknown)}; valid keys: activation_fn, decoder_arch, net_arch."
            )
        obs_dim = int(np.prod(self.observation_space.shape))  # type: ignore[arg-type]
        action_dim = int(np.prod(self.action_space.shape))  # type: ignore[arg-type]
        kwargs.setdefault("activation_fn", nn.Tanh)
        self.discriminator = Discriminator(
            obs_dim, action_dim, self.discriminator_inputs, latent_dim=self.latent_dim, **kwargs
        ).to(self.device)
        self.discriminator_optimizer = th.optim.Adam(self.discriminator.parameters(), lr=self.discriminator_learning_rate)
        self.beta = th.tensor(float(self.beta_init), device=self.device)

    def _wrap_reward(self) -> None:
        """Put the reward wrapper right under VecNormalize (or outermost without one).

        Why under VecNormalize: VecNormalize then normalises the learned reward for PPO as it would the env's, and
        SB3's ``sync_envs_normalization`` (which walks the training and evaluation wrappers in lock-step) still
        finds the evaluation env's VecNormalize. The wrapper then sees raw observations: :meth:`_generator_reward`
        normalises them with the live statistics, as the discriminator's training rows are.
        """
        vec_normalize = self._vec_normalize_env
        if vec_normalize is not None:
            if not isinstance(vec_normalize.venv, DiscriminatorRewardVecEnv):
                vec_normalize.venv = DiscriminatorRewardVecEnv(vec_normalize.venv, self._generator_reward)
        elif self.env is not None and not isinstance(self.env, DiscriminatorRewardVecEnv):
            self.env = DiscriminatorRewardVecEnv(self.env, self._generator_reward)

    def set_env(self, env: GymEnv, force_reset: bool = True) -> None:
        super().set_env(env, force_reset)
        self._wrap_reward()

    def set_demonstrations(self, demonstrations: Any) -> None:
        """Replace the demonstrations; the expert buffer is rebuilt before the next discriminator update."""
        self.demonstrations = demonstrations
        self.expert_buffer = None

    def _setup_learn(self, total_timesteps: int, *args: Any, **kwargs: Any) -> Any:
        if self.expert_buffer is None:
            # Each discriminator minibatch takes as many expert rows as rollout rows
            rollout_rows = self.n_steps * self.n_envs
            self.expert_buffer = build_expert_buffer(
                self,
                self.demonstrations,
                batch_size=min(self.discriminator_batch_size, rollout_rows),
                episode_end=self.demo_episode_end,
                n_episodes=self.n_demo_episodes,
                needs_actions=self.discriminator_inputs == "state_action",
                missing_actions_hint="Train a state-only discriminator D(s) with discriminator_inputs='state'",
            )
        return super()._setup_learn(total_timesteps, *args, **kwargs)

    # ------------------------------------------------------------------------------------------------------
    # Reward and training
    # ------------------------------------------------------------------------------------------------------

    def _scaled_actions(self, actions: np.ndarray) -> th.Tensor:
        """Env-scale actions -> [-1, 1] by the policy's ``scale_action``, the map the expert buffer applies to the
        expert's (clipped first: PPO stores the unclipped Gaussian sample, and out-of-bound actions would give the
        discriminator a free tell)."""
        assert isinstance(self.action_space, spaces.Box)
        clipped = np.clip(actions.reshape(len(actions), -1), self.action_space.low, self.action_space.high)  # (n, A)
        return th.as_tensor(self.policy.scale_action(clipped), dtype=th.float32, device=self.device)

    def _generator_reward(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """-log(1 - D(s, a)) of one step of every env (raw observations), shape (n_envs,)."""
        if self._vec_normalize_env is not None:
            observations = self._vec_normalize_env.normalize_obs(observations)  # type: ignore[assignment]
        obs = th.as_tensor(observations, dtype=th.float32, device=self.device).reshape(len(observations), -1)
        scaled = self._scaled_actions(actions) if self.discriminator_inputs == "state_action" else None
        return self.discriminator.reward(obs, scaled).cpu().numpy()

    def predict_reward(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """The learned reward of rows (raw observations, actions in the env's scale), shape (n,)."""
        return self._generator_reward(np.asarray(observations), np.asarray(actions))

    def train(self) -> None:
        self._train_discriminator()
        super().train()

    def _train_discriminator(self) -> None:
        assert self.expert_buffer is not None
        self.discriminator.train(True)
        buffer = self.rollout_buffer
        n_rows = buffer.buffer_size * buffer.n_envs
        # (n_steps, n_envs, d) -> (n, d); float32 like the expert rows (MuJoCo observations are float64)
        obs = th.as_tensor(buffer.observations.reshape(n_rows, -1), dtype=th.float32, device=self.device)
        actions = (
            self._scaled_actions(buffer.actions.reshape(n_rows, -1)) if self.discriminator_inputs == "state_action" else None
        )
        batch_size = min(self.discriminator_batch_size, n_rows, self.expert_buffer.n_transitions)
        # Statistics stay on the device and are read once per rollout (no host sync per minibatch)
        totals = th.zeros(5, device=self.device)  # loss, expert accuracy, policy accuracy, KL, minibatches
        for _ in range(self.discriminator_epochs):
            permutation = th.randperm(n_rows, device=self.device)
            for start in range(0, n_rows - batch_size + 1, batch_size):
                rows = permutation[start : start + batch_size]
                expert = self.expert_buffer.sample(batch_size, self._vec_normalize_env)
                # One forward for both halves: rows [0, B) expert, [B, 2B) policy
                joint_obs = th.cat([expert.observations, obs[rows]])
                joint_actions = None
                if actions is not None:
                    assert expert.actions is not None
                    joint_actions = th.cat([expert.actions, actions[rows]])
                logits, kl = self.discriminator(joint_obs, joint_actions)
                loss = discriminator_loss(logits[:batch_size], logits[batch_size:])
                if kl is not None:
                    loss = loss + self.beta * (kl - self.information_constraint)
                self.discriminator_optimizer.zero_grad()
                loss.backward()
                self.discriminator_optimizer.step()
                with th.no_grad():
                    kl_value = kl.detach() if kl is not None else th.zeros((), device=self.device)
                    if kl is not None:
                        self.beta = dual_beta_update(self.beta, kl_value, self.information_constraint, self.beta_learning_rate)
                    expert_accuracy = (logits[:batch_size] > 0).float().mean()
                    policy_accuracy = (logits[batch_size:] < 0).float().mean()
                    totals += th.stack([loss.detach(), expert_accuracy, policy_accuracy, kl_value, th.ones_like(kl_value)])
        loss_mean, expert_acc, policy_acc, kl_mean, count = totals.tolist()
        count = max(count, 1.0)
        self.logger.record("discriminator/loss", loss_mean / count)
        self.logger.record("discriminator/expert_accuracy", expert_acc / count)
        self.logger.record("discriminator/policy_accuracy", policy_acc / count)
        self.logger.record("discriminator/reward_mean", float(buffer.rewards.mean()))
        if self.latent_dim is not None:
            self.logger.record("discriminator/kl", kl_mean / count)
            self.logger.record("discriminator/beta", float(self.beta))

    def learn(
        self: SelfAdversarialImitation,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfAdversarialImitation:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name or type(self).__name__,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    # ------------------------------------------------------------------------------------------------------
    # Saving
    # ------------------------------------------------------------------------------------------------------

    def _excluded_save_params(self) -> list[str]:
        # The demonstrations and the expert buffer never go into the zip (load() works without them)
        return [
            *super()._excluded_save_params(),
            "demonstrations",
            "expert_buffer",
            "discriminator",
            "discriminator_optimizer",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()
        return [*state_dicts, "discriminator", "discriminator_optimizer"], [*variables, "beta"]


class GAIL(AdversarialImitation):
    """GAIL on a PPO generator (Ho & Ermon, "Generative Adversarial Imitation Learning", NeurIPS 2016): the
    discriminator has no bottleneck; its default layers are LocoMuJoCo's [512, 256] tanh. Every argument is
    :class:`AdversarialImitation`'s except ``latent_dim``."""

    def __init__(
        self, policy: str | type[ActorCriticPolicy], env: GymEnv | str | None, demonstrations: Any = None, **kwargs: Any
    ):
        if kwargs.get("latent_dim") is not None:
            raise ValueError("GAIL has no bottleneck: use VAIL for latent_dim.")
        kwargs.setdefault("discriminator_kwargs", {"net_arch": [512, 256]})  # LocoMuJoCo's GAIL discriminator
        super().__init__(policy, env, demonstrations, **kwargs)


class VAIL(AdversarialImitation):
    """VAIL on a PPO generator (Peng et al., "Variational Discriminator Bottleneck", ICLR 2019): the discriminator
    classifies from a Gaussian code whose KL to N(0, I) is held near ``information_constraint`` by the dual
    update of beta. LocoMuJoCo's settings: ``discriminator_inputs="state"``, ``latent_dim=128``, encoder [256],
    linear decoder, I_c 0.1, lr_beta 1e-5. Every argument is :class:`AdversarialImitation`'s (``latent_dim``
    defaults to 128)."""

    def __init__(
        self, policy: str | type[ActorCriticPolicy], env: GymEnv | str | None, demonstrations: Any = None, **kwargs: Any
    ):
        kwargs.setdefault("latent_dim", 128)
        kwargs.setdefault("discriminator_kwargs", {"net_arch": [256]})
        super().__init__(policy, env, demonstrations, **kwargs)
