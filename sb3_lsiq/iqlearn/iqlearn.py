from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule

from sb3_lsiq.common.iq_algorithm import ImplicitQAlgorithm, check_choice
from sb3_lsiq.common.losses import IQ_POLICY_TERMS, REGULARIZERS, CriticLossTerms, IQBatch, gradient_penalty, iq_critic_loss
from sb3_lsiq.common.observation_map import ObservationMap
from sb3_lsiq.iqlearn.policies import IQLearnPolicy, MlpPolicy

SelfIQLearn = TypeVar("SelfIQLearn", bound="IQLearn")


class IQLearn(ImplicitQAlgorithm):
    """
    Inverse soft-Q Learning (IQ-Learn) with the chi^2 regulariser, on a SAC actor.

    Paper: "IQ-Learn: Inverse soft-Q Learning for Imitation", Garg, Chakraborty, Cundy, Song, Ermon,
    NeurIPS 2021, https://arxiv.org/abs/2106.12142 (a clean-room implementation from the paper's maths; no
    code of the official repository is used).

    The critic maximises the inverse soft-Q objective E_E[r] - (policy term) - chi^2 regulariser, where
    r = Q(s, a) - gamma (1 - d) V_target(s') is the implicit reward, V(s) = E_pi[Q(s, a) - alpha log pi(a|s)],
    and the actor is SAC's actor against Q. The environment's reward is never used for training.

    :param policy: The policy model to use (MlpPolicy, or a subclass of IQLearnPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param demonstrations: Expert demonstrations: imitation Trajectories/Transitions, an HF dataset, a mapping of
        arrays, a ``Demonstrations`` or a path to a ``.npz`` file or an imitation dataset folder
        (see ``sb3_lsiq.load_demonstrations``). Loaded lazily when learning starts, never saved in the zip.
    :param reg_mult: c, the weight of the chi^2 regulariser c * mean(r^2); 0.5 equals IQ-Learn's 1/(4 alpha)
        with alpha = 0.5
    :param policy_term: ``"value"`` mean_all[V(s) - y] (IQ-Learn's HalfCheetah/Ant setting), ``"v0"``
        (1 - gamma) mean_E[V(s)] (its Hopper/Walker2d/Humanoid setting), ``"value_expert"``, ``"value_policy"``,
        ``"q_old_policy"``, ``"value_q_old_policy"`` or ``"off"`` (see ``sb3_lsiq.common.losses.iq_critic_loss``)
    :param regularizer: rows of the chi^2 regulariser: ``"expert_and_policy"`` (IQ-Learn's ``regularize``),
        ``"expert"`` (IQ-Learn's ``chi``), ``"policy"`` or ``"off"``
    :param treat_absorbing: weight the squared reward of absorbing rows by 1 - gamma (LS-IQ's treatment;
        off in IQ-Learn, where V(absorbing) = 0)
    :param gradient_penalty: lambda of the gradient penalty lambda * mean((||grad Q||_2 - 1)^2) on inputs
        interpolated between expert and policy rows (0 disables it)
    :param learning_rate: learning rate of the critic (and by default of the entropy coefficient);
        it can be a function of the current progress remaining (from 1 to 0) or a string ``"lin_1e-3"``
        (linear decay to 0, as in rl-zoo3)
    :param actor_learning_rate: learning rate of the actor (float, schedule or ``"lin_<float>"``);
        None uses ``learning_rate``
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps of the model to collect transitions for before learning starts
    :param batch_size: Minibatch size of replay (policy) transitions for each gradient update
    :param expert_batch_size: Minibatch size of expert transitions for each gradient update; None uses
        ``batch_size`` (the critic then sees 2 * batch_size rows)
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
    :param ent_coef: Entropy coefficient alpha: a float (fixed; 1e-2 by default, IQ-Learn's MuJoCo init_temp) or ``"auto"`` /
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
        ``"soft_max"`` (the soft maximum of Q over actions; see ``learn_offline``, measured with LSIQ)
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation. See :ref:`iqlearn_policies`
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or wrappers used), 2 for
        debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MlpPolicy}
    policy: IQLearnPolicy

    def __init__(
        self,
        policy: str | type[IQLearnPolicy],
        env: GymEnv | str | None,
        demonstrations: Any = None,
        reg_mult: float = 0.5,
        policy_term: str = "value",
        regularizer: str = "expert_and_policy",
        treat_absorbing: bool = False,
        gradient_penalty: float = 0.0,
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
        ent_coef: str | float = 1e-2,
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
        self.policy_term = policy_term
        self.regularizer = regularizer
        self.treat_absorbing = treat_absorbing
        self.gradient_penalty = gradient_penalty
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
        check_choice("policy_term", self.policy_term, IQ_POLICY_TERMS)
        check_choice("regularizer", self.regularizer, REGULARIZERS)
        if self.gradient_penalty < 0:
            raise ValueError(f"gradient_penalty must be >= 0 (0 disables it), got {self.gradient_penalty}.")

    def _critic_loss(self, batch: IQBatch, observations: th.Tensor, actions: th.Tensor) -> CriticLossTerms:
        terms = iq_critic_loss(
            batch,
            self.reg_mult,
            self.gamma,
            expert_term="bootstrap",
            policy_term=self.policy_term,
            regularizer=self.regularizer,
            treat_absorbing=self.treat_absorbing,
        )
        if self.gradient_penalty > 0:
            n_policy = batch.n_policy
            n_pairs = min(n_policy, observations.shape[0] - n_policy)  # pair the first expert and policy rows
            mix = th.rand(n_pairs, 1, device=observations.device)
            penalty = gradient_penalty(
                lambda obs, act: th.cat(self.critic(obs, act), dim=1),
                observations[n_policy : n_policy + n_pairs],
                actions[n_policy : n_policy + n_pairs],
                observations[:n_pairs],
                actions[:n_pairs],
                mix,
            )
            terms = terms._replace(loss=terms.loss + self.gradient_penalty * penalty)
        return terms

    def _offline_critic_loss(self, batch: IQBatch, policy_term: str) -> CriticLossTerms:
        # IQ-Learn's offline setting: -r on expert rows, the policy term on expert states, chi^2 on expert rows
        return iq_critic_loss(
            batch,
            self.reg_mult,
            self.gamma,
            expert_term="bootstrap",
            policy_term=policy_term,
            regularizer="expert" if self.regularizer != "off" else "off",
            treat_absorbing=self.treat_absorbing,
        )

    def learn(
        self: SelfIQLearn,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "IQLearn",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfIQLearn:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
