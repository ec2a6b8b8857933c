from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule

from sb3_lsiq.common.entropy_critic import ENTROPY_CRITIC_OPTIONS, ENTROPY_CRITICS, EntropyCritic
from sb3_lsiq.common.iq_algorithm import ImplicitQAlgorithm, check_choice
from sb3_lsiq.common.losses import (
    EXPERT_TERMS,
    IQ_POLICY_TERMS,
    LEAST_SQUARES_POLICY_TERMS,
    REGRESSION_LOSSES,
    REGULARIZERS,
    CriticLossTerms,
    IQBatch,
    iq_critic_loss,
    least_squares_critic_loss,
    q_bounds,
)
from sb3_lsiq.common.observation_map import ObservationMap
from sb3_lsiq.lsiq.policies import LSIQPolicy, MlpPolicy

SelfLSIQ = TypeVar("SelfLSIQ", bound="LSIQ")

LOSS_TYPES = ("least_squares", "iq")


class LSIQ(ImplicitQAlgorithm):
    """
    Least-Squares Inverse Q-Learning (LS-IQ), on a SAC actor.

    Paper: "LS-IQ: Implicit Reward Regularization for Inverse Reinforcement Learning", Al-Hafez, Tateo,
    Arenz, Zhao, Peters, ICLR 2023, https://arxiv.org/abs/2303.00599

    The critic is trained on a mixed batch of replay and expert transitions so that its implicit reward
    r = Q(s, a) - gamma (1 - d) V(s') regresses to +1/c on expert data and -1/c on policy data (a squared
    Bellman error with fixed rewards, equivalent to the chi^2-regularised IQ objective on the mixture of expert
    and policy distributions). The target value is clipped to [Q_min, Q_max] = +-1/(c (1 - gamma)), and
    absorbing (truly terminal) transitions keep receiving their fixed reward forever, which removes the
    survival bias of IQ-Learn. The environment's reward is never used for training.

    Defaults follow the configuration every released LS-IQ launcher ran, with absorbing-state treatment on
    (``treat_absorbing=False`` reproduces the launchers).

    :param policy: The policy model to use (MlpPolicy, or a subclass of LSIQPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param demonstrations: Expert demonstrations: imitation Trajectories/Transitions, an HF dataset, a mapping of
        arrays, a ``Demonstrations`` or a path to a ``.npz`` file or an imitation dataset folder
        (see ``sb3_lsiq.load_demonstrations``). Loaded lazily when learning starts, never saved in the zip.
    :param reg_mult: c, the regulariser weight: the fixed rewards are +-1/c and Q_max = 1/(c (1 - gamma))
    :param loss_type: ``"least_squares"`` (the paper's form, ``sqil_like`` in the reference) or ``"iq"``
        (the IQ-Learn objective with LS-IQ's clipping and expert term, ``iq_like``)
    :param expert_term: ``"fix"`` regresses Q(s_E, a_E) to Q_max; ``"bootstrap"`` to r_max + y
    :param policy_term: least squares: ``"value"`` (V(s) on all rows), ``"value_policy"`` (policy rows),
        ``"q_old_policy"`` (Q at the replay actions). iq: also ``"value_expert"``, ``"value_q_old_policy"``,
        ``"v0"`` and ``"off"`` (see ``sb3_lsiq.common.losses.iq_critic_loss``)
    :param q_loss: regression loss of the least-squares terms and of the fix expert term: ``"mse"`` or ``"huber"``
    :param regularizer: rows of the chi^2 regulariser with ``loss_type="iq"``: ``"expert_and_policy"``
        (default for iq), ``"expert"``, ``"policy"``, ``"off"``. Must stay None with ``"least_squares"``,
        whose regulariser is implicit in the fixed targets.
    :param treat_absorbing: absorbing-state treatment (an absorbing transition's target is Q_max / Q_min; in the iq
        form its squared reward is weighted by 1 - gamma)
    :param target_clipping: clip the target value V_target(s') to [q_min, q_max]
    :param q_max: upper Q bound; None derives 1/(c (1 - gamma)) from ``reg_mult`` and ``gamma``
    :param q_min: lower Q bound; None derives -q_max
    :param entropy_critic: ``"off"``; ``"entropy"`` (LSIQ-H: a separate critic H carries the future entropy and Q
        becomes reward-only; the actor maximises Q + H - alpha log pi) or ``"entropy_regularizer"`` (LSIQ-HC: H also
        carries the regulariser reward c r^2). Use a fixed ``ent_coef`` with it, as the paper does: a learned one can
        diverge (a warning says so)
    :param entropy_critic_kwargs: ``tau`` (H's target rate; default ``tau``), ``loss`` (``"mse"`` for H, ``"huber"``
        for HC by default), ``clip_expert_entropy`` (True: expert next-state entropies are lower-clipped to the
        policy's running maximum), ``tau_up`` (1e-2) and ``tau_down`` (1e-4), the rates of that running maximum
    :param learning_rate: learning rate of the critic (and by default of the entropy coefficient);
        it can be a function of the current progress remaining (from 1 to 0) or a string ``"lin_1e-3"``
        (linear decay to 0, as in rl-zoo3)
    :param actor_learning_rate: learning rate of the actor (float, schedule or ``"lin_<float>"``);
        None uses ``learning_rate``
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps of the model to collect transitions for before learning starts
    :param batch_size: Minibatch size of replay (policy) transitions for each gradient update
    :param expert_batch_size: Minibatch size of expert transitions for each gradient update; None uses
        ``batch_size`` (the critic then sees 2 * batch_size rows, as in the paper)
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1)
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps. Alternatively pass a tuple of frequency and unit
        like ``(5, "step")`` or ``(2, "episode")``.
    :param gradient_steps: How many gradient steps to do after each rollout (see ``train_freq``)
        Set to ``-1`` means to do as many gradient steps as steps done in the environment during the rollout.
    :param action_noise: the action noise type (None by default), this can help for hard exploration problem.
    :param replay_buffer_class: Replay buffer class to use. If ``None``, it will be automatically selected.
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer at a cost of more complexity.
    :param ent_coef: Entropy coefficient alpha: a float (fixed, 1e-3 by default as in the paper) or ``"auto"`` /
        ``"auto_0.1"`` to learn it (with 0.1 as initial value) towards ``target_entropy``
    :param target_entropy: target entropy when learning ``ent_coef`` (``"auto"``: -dim(A))
    :param ent_coef_learning_rate: learning rate of the entropy coefficient; None uses ``learning_rate``
    :param target_update_interval: update the target network every ``target_update_interval`` gradient steps
    :param actor_learning_starts: the actor and the entropy coefficient are updated only once the model has taken
        more than this many environment steps (the reference's warm-up: 15000 with learning_starts 10000)
    :param actor_on_expert_states: train the actor on the expert states of the batch too (as in the reference),
        not only on the replay states
    :param demo_episode_end: how unlabelled episode ends in the demonstrations are read: ``"auto"`` (recorded
        truncation info, else length >= the env's max_episode_steps means truncated, with a warning),
        ``"terminated"`` or ``"truncated"``
    :param n_demo_episodes: use only the first ``n_demo_episodes`` episodes of the demonstrations (None: all)
    :param expert_actions: where the expert batch's actions come from: ``"demonstrations"`` (recorded), ``"idm"``
        (learning from observations: an inverse dynamics model p(a|s, s'), fitted on the replay batch every gradient
        step, samples an action for each expert pair; recorded actions, if any, are not read) or ``"policy"`` (the
        state-only baseline: the current policy's action at the expert state)
    :param idm_kwargs: options of the inverse dynamics model (``expert_actions="idm"``): ``net_arch`` ([256, 256]),
        ``learning_rate`` (3e-4), ``log_std_bounds`` ((-5, 2)), ``kl_coef`` (0: the Gaussian IDM; > 0: the
        KL-regularised IDM, KL to a target copy on expert pairs), ``target_update_interval`` (1000 fits),
        ``pretrain_fits`` (0: fits on replay batches before the first expert pair is labelled),
        ``activation_fn``
    :param expert_observation_map: an :class:`~sb3_lsiq.ObservationMap` when the demonstrations observe a subset
        or another layout of the agent's observation: expert rows are lifted into the agent's layout (unobserved
        entries get the map's fill), and the critic (and inverse dynamics model) sees only the shared entries, so
        the fill cannot tell expert rows apart; or its fields as a mapping, as a YAML file holds them
        (``{agent_indices: [...], agent_dim: N, fill: 0.0}``); None: the layouts are identical
    :param offline_objective: None (default): ``learn`` trains online; ``"iq"`` or ``"bc"``: ``learn(n)`` runs
        ``learn_offline(n, objective=...)`` instead (n updates, no environment step), which is how rl-zoo3 trains offline
    :param offline_policy_term: the ``policy_term`` of offline training (``"v0"`` or ``"value_expert"``)
    :param offline_value: the ``value`` of offline training: ``"policy"`` (the actor's soft value, the paper's) or
        ``"soft_max"`` (the soft maximum of Q over actions; better on Pendulum-v1, see ``learn_offline``)
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation. See :ref:`lsiq_policies`
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MlpPolicy}
    policy: LSIQPolicy

    def __init__(
        self,
        policy: str | type[LSIQPolicy],
        env: GymEnv | str | None,
        demonstrations: Any = None,
        reg_mult: float = 0.5,
        loss_type: str = "least_squares",
        expert_term: str = "fix",
        policy_term: str = "value",
        q_loss: str = "mse",
        regularizer: str | None = None,
        treat_absorbing: bool = True,
        target_clipping: bool = True,
        q_max: float | None = None,
        q_min: float | None = None,
        entropy_critic: str = "off",
        entropy_critic_kwargs: dict[str, Any] | None = None,
        learning_rate: float | str | Schedule = 3e-4,
        actor_learning_rate: float | str | Schedule | None = 3e-5,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        expert_batch_size: int | None = None,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        ent_coef: str | float = 1e-3,
        target_entropy: str | float = "auto",
        ent_coef_learning_rate: float | str | Schedule | None = None,
        target_update_interval: int = 1,
        actor_learning_starts: int = 0,
        actor_on_expert_states: bool = True,
        demo_episode_end: str = "auto",
        n_demo_episodes: int | None = None,
        expert_actions: str = "demonstrations",
        idm_kwargs: dict[str, Any] | None = None,
        expert_observation_map: ObservationMap | Mapping[str, Any] | None = None,
        offline_objective: str | None = None,
        offline_policy_term: str = "v0",
        offline_value: str = "policy",
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        self.loss_type = loss_type
        self.expert_term = expert_term
        self.policy_term = policy_term
        self.q_loss = q_loss
        self.regularizer = regularizer
        self.treat_absorbing = treat_absorbing
        self.target_clipping = target_clipping
        self.q_max = q_max
        self.q_min = q_min
        self.entropy_critic_mode = entropy_critic
        self.entropy_critic_kwargs = entropy_critic_kwargs
        super().__init__(
            policy,
            env,
            demonstrations=demonstrations,
            reg_mult=reg_mult,
            learning_rate=learning_rate,
            actor_learning_rate=actor_learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            expert_batch_size=expert_batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            action_noise=action_noise,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            ent_coef=ent_coef,
            target_entropy=target_entropy,
            ent_coef_learning_rate=ent_coef_learning_rate,
            target_update_interval=target_update_interval,
            actor_learning_starts=actor_learning_starts,
            actor_on_expert_states=actor_on_expert_states,
            demo_episode_end=demo_episode_end,
            n_demo_episodes=n_demo_episodes,
            expert_actions=expert_actions,
            idm_kwargs=idm_kwargs,
            expert_observation_map=expert_observation_map,
            offline_objective=offline_objective,
            offline_policy_term=offline_policy_term,
            offline_value=offline_value,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
        )

    def _validate_options(self) -> None:
        super()._validate_options()
        check_choice("loss_type", self.loss_type, LOSS_TYPES)
        check_choice("expert_term", self.expert_term, EXPERT_TERMS)
        check_choice("q_loss", self.q_loss, REGRESSION_LOSSES)
        if self.loss_type == "least_squares":
            check_choice("policy_term (loss_type='least_squares')", self.policy_term, LEAST_SQUARES_POLICY_TERMS)
            if self.regularizer is not None:
                raise ValueError(
                    f"regularizer={self.regularizer!r} only applies to loss_type='iq'; the least-squares loss has its "
                    "regulariser built into the fixed targets. Remove regularizer or set loss_type='iq'."
                )
        else:
            check_choice("policy_term (loss_type='iq')", self.policy_term, IQ_POLICY_TERMS)
            if self.regularizer is not None:
                check_choice("regularizer", self.regularizer, REGULARIZERS)
        check_choice("entropy_critic", self.entropy_critic_mode, ENTROPY_CRITICS)
        if self.entropy_critic_kwargs is not None:
            if self.entropy_critic_mode == "off":
                raise ValueError("entropy_critic_kwargs only apply with entropy_critic='entropy' or 'entropy_regularizer'.")
            unknown = set(self.entropy_critic_kwargs) - ENTROPY_CRITIC_OPTIONS
            if unknown:
                valid = ", ".join(sorted(ENTROPY_CRITIC_OPTIONS))
                raise ValueError(f"Unknown entropy_critic_kwargs {sorted(unknown)}; valid keys: {valid}.")
        default_min, default_max = q_bounds(self.reg_mult, self.gamma)
        self._q_max = self.q_max if self.q_max is not None else default_max
        self._q_min = self.q_min if self.q_min is not None else (-self._q_max if self.q_max is not None else default_min)
        if self._q_min >= self._q_max:
            raise ValueError(f"q_min={self._q_min} must be lower than q_max={self._q_max}.")

    def _setup_model(self) -> None:
        super()._setup_model()
        if self.entropy_critic_mode != "off":
            if self.ent_coef_optimizer is not None:  # the base class set up a learned alpha
                # H's targets are alpha-weighted entropies: a rising alpha inflates H (its bounds reach 1e3, Q's
                # +-1/(c (1 - gamma))), the actor then follows H rather than Q, its entropy falls and alpha rises
                # further. Measured on Pendulum-v1: alpha 0.7 -> 44 within 8k steps, the return fell from expert level.
                warnings.warn(
                    f"entropy_critic={self.entropy_critic_mode!r} with a learned entropy coefficient (ent_coef="
                    f"{self.ent_coef!r}) can diverge: alpha scales the entropy critic's targets, which the actor "
                    "maximises. The LS-IQ paper keeps alpha fixed; pass a float ent_coef (e.g. 1e-3 on MuJoCo, 0.1 on "
                    "Pendulum-v1).",
                    stacklevel=2,
                )
            kwargs = {"tau": self.tau, **(self.entropy_critic_kwargs or {})}
            self.entropy_critic = EntropyCritic(
                self.policy, self.lr_schedule(1), self.entropy_critic_mode, self.reg_mult, self.gamma,
                (self._q_min, self._q_max), **kwargs,
            ).to(self.device)  # fmt: skip

    def _target_clip_bounds(self) -> tuple[float | None, float | None]:
        return (self._q_min, self._q_max) if self.target_clipping else (None, None)

    def _critic_loss(self, batch: IQBatch, observations: th.Tensor, actions: th.Tensor) -> CriticLossTerms:
        if self.loss_type == "least_squares":
            return least_squares_critic_loss(
                batch,
                self.reg_mult,
                self.gamma,
                self._q_max,
                expert_term=self.expert_term,
                policy_term=self.policy_term,
                treat_absorbing=self.treat_absorbing,
                loss=self.q_loss,
            )
        return iq_critic_loss(
            batch,
            self.reg_mult,
            self.gamma,
            self._q_max,
            expert_term=self.expert_term,
            policy_term=self.policy_term,
            regularizer=self.regularizer or "expert_and_policy",
            treat_absorbing=self.treat_absorbing,
            loss=self.q_loss,
        )

    def _offline_critic_loss(self, batch: IQBatch, policy_term: str) -> CriticLossTerms:
        # LS-IQ's iq form on expert rows only: -r on expert rows, the policy term on expert states, the chi^2
        # regulariser on expert rows, with LS-IQ's clipped targets (IQ-Learn's offline objective, bounded)
        return iq_critic_loss(
            batch,
            self.reg_mult,
            self.gamma,
            self._q_max,
            expert_term="bootstrap",
            policy_term=policy_term,
            regularizer="expert",
            treat_absorbing=self.treat_absorbing,
            loss=self.q_loss,
        )

    def learn(
        self: SelfLSIQ,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "LSIQ",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfLSIQ:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
