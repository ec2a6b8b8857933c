"""The pure critic losses against values computed by hand, without an environment."""

import math

import pytest
import torch as th

from sb3_lsiq.common.losses import (
    IQBatch,
    adversarial_reward,
    chi2_regularizer,
    diagonal_gaussian_kl,
    discriminator_loss,
    dual_beta_update,
    gradient_penalty,
    iq_critic_loss,
    kl_to_standard_normal,
    least_squares_critic_loss,
    q_bounds,
    soft_bellman_target,
    squashed_gaussian_nll,
)

# A tiny batch: rows 0-1 are policy rows, rows 2-3 expert rows; one critic.
Q = th.tensor([[1.0], [2.0], [3.0], [4.0]])
V = th.tensor([[0.5], [1.0], [1.5], [2.0]])
TARGET = th.tensor([[0.1], [0.2], [0.3], [0.4]])
NO_DONE = th.zeros(4, 1)
C, GAMMA = 0.5, 0.9


def batch(q=Q, v=V, target=TARGET, done=NO_DONE, n_policy=2):
    return IQBatch(q=q, v=v, target=target, done=done, n_policy=n_policy)


def test_q_bounds_derive_from_c_and_gamma():
    assert q_bounds(0.5, 0.99) == pytest.approx((-200.0, 200.0))
    assert q_bounds(10.0, 0.99) == pytest.approx((-10.0, 10.0))


def test_soft_bellman_target_clips_then_masks_absorbing_rows():
    next_v = th.tensor([[300.0], [-5.0], [-300.0], [50.0]])
    done = th.tensor([[0.0], [1.0], [0.0], [0.0]])
    y = soft_bellman_target(next_v, done, GAMMA, -200.0, 200.0)
    assert th.allclose(y, th.tensor([[180.0], [0.0], [-180.0], [45.0]]))
    unclipped = soft_bellman_target(next_v, done, GAMMA)
    assert th.allclose(unclipped, th.tensor([[270.0], [0.0], [-270.0], [45.0]]))


def test_targets_stay_inside_the_bounds():
    q_min, q_max = q_bounds(C, 0.99)
    next_v = th.randn(1000, 1) * 1e4
    y = soft_bellman_target(next_v, th.zeros(1000, 1), 0.99, q_min, q_max)
    assert y.max() <= 0.99 * q_max + 1e-4 and y.min() >= 0.99 * q_min - 1e-4


def test_least_squares_fix_value_by_hand():
    terms = least_squares_critic_loss(batch(), C, GAMMA, q_max=10.0, expert_term="fix", policy_term="value",
                                      treat_absorbing=False)  # fmt: skip
    # expert: mean((3 - 10)^2, (4 - 10)^2) = 42.5
    assert terms.expert_term.item() == pytest.approx(42.5)
    # policy: V - (-1/c + y) = [2.4, 2.8, 3.2, 3.6] -> mean of squares 9.2
    assert terms.policy_term.item() == pytest.approx(9.2)
    assert terms.loss.item() == pytest.approx(51.7)
    assert terms.regularizer.item() == 0.0


def test_least_squares_other_policy_terms_by_hand():
    value_policy = least_squares_critic_loss(batch(), C, GAMMA, 10.0, "fix", "value_policy", False)
    assert value_policy.policy_term.item() == pytest.approx((2.4**2 + 2.8**2) / 2)
    q_old = least_squares_critic_loss(batch(), C, GAMMA, 10.0, "fix", "q_old_policy", False)
    # Q - (-2 + y) on policy rows: [2.9, 3.8]
    assert q_old.policy_term.item() == pytest.approx((2.9**2 + 3.8**2) / 2)
    bootstrap = least_squares_critic_loss(batch(), C, GAMMA, 10.0, "bootstrap", "value", False)
    # Q - (2 + y) on expert rows: [0.7, 1.6]
    assert bootstrap.expert_term.item() == pytest.approx((0.7**2 + 1.6**2) / 2)


def test_huber_loss_is_used_when_asked():
    terms = least_squares_critic_loss(batch(), C, GAMMA, 10.0, "fix", "value", False, loss="huber")
    # Huber with delta 1 on errors 7 and 6: |e| - 0.5
    assert terms.expert_term.item() == pytest.approx((6.5 + 5.5) / 2)


def test_absorbing_rows_get_absorbing_targets():
    q_min, q_max = q_bounds(C, GAMMA)  # +-20
    done = th.tensor([[0.0], [1.0], [0.0], [1.0]])
    target = th.tensor([[0.1], [0.0], [0.3], [0.0]])  # y = 0 on absorbing rows
    # Place Q exactly on the expected targets: policy r_min(d) + y, expert r_max(d) + y
    q = th.tensor([[-2.0 + 0.1], [q_min], [2.0 + 0.3], [q_max]])
    terms = least_squares_critic_loss(batch(q=q, target=target, done=done), C, GAMMA, q_max, "bootstrap", "q_old_policy",
                                      treat_absorbing=True)  # fmt: skip
    assert terms.loss.item() == pytest.approx(0.0, abs=1e-10)
    # Without the treatment the absorbing rows regress to -+1/c instead: the same Q is now wrong
    plain = least_squares_critic_loss(batch(q=q, target=target, done=done), C, GAMMA, q_max, "bootstrap", "q_old_policy",
                                      treat_absorbing=False)  # fmt: skip
    assert plain.loss.item() == pytest.approx(((q_min + 2.0) ** 2 + (q_max - 2.0) ** 2) / 2)


def test_value_term_uses_absorbing_reward_on_expert_rows_too():
    # Reference defect: expert rows of the "value" term always used -1/c; here r_min(d) is used on every row
    q_min, q_max = q_bounds(C, GAMMA)
    done = th.tensor([[0.0], [0.0], [0.0], [1.0]])
    target = th.tensor([[0.1], [0.2], [0.3], [0.0]])
    v = th.tensor([[-1.9], [-1.8], [-1.7], [q_min]])
    terms = least_squares_critic_loss(batch(v=v, target=target, done=done), C, GAMMA, q_max, "fix", "value", True)
    assert terms.policy_term.item() == pytest.approx(0.0, abs=1e-10)


def test_iq_loss_by_hand():
    # r = Q - y = [0.9, 1.8, 2.7, 3.6]
    terms = iq_critic_loss(batch(), C, GAMMA, policy_term="value", regularizer="expert_and_policy")
    assert terms.expert_term.item() == pytest.approx(-(2.7 + 3.6) / 2)
    assert terms.policy_term.item() == pytest.approx((0.4 + 0.8 + 1.2 + 1.6) / 4)
    assert terms.regularizer.item() == pytest.approx(0.5 * (0.81 + 3.24 + 7.29 + 12.96) / 4)
    assert terms.loss.item() == pytest.approx(-3.15 + 1.0 + 3.0375)


@pytest.mark.parametrize(
    ("policy_term", "expected"),
    [
        ("value_expert", (1.2 + 1.6) / 2),
        ("value_policy", (0.4 + 0.8) / 2),
        ("q_old_policy", (0.9 + 1.8) / 2),
        ("value_q_old_policy", (0.9 + 1.8) / 2 + 1.0),
        ("v0", (1 - GAMMA) * (1.5 + 2.0) / 2),
        ("off", 0.0),
    ],
)
def test_iq_policy_terms_by_hand(policy_term, expected):
    terms = iq_critic_loss(batch(), C, GAMMA, policy_term=policy_term, regularizer="off")
    assert terms.policy_term.item() == pytest.approx(expected)


def test_iq_fix_expert_term_and_absorbing_weight():
    done = th.tensor([[0.0], [0.0], [0.0], [1.0]])
    terms = iq_critic_loss(batch(done=done), C, GAMMA, q_max=10.0, expert_term="fix", regularizer="expert",
                           treat_absorbing=True)  # fmt: skip
    assert terms.expert_term.item() == pytest.approx(42.5)
    # expert rows r^2 = [7.29, 12.96], the absorbing one weighted by 1 - gamma
    assert terms.regularizer.item() == pytest.approx(0.5 * (7.29 + 0.1 * 12.96) / 2)
    with pytest.raises(ValueError, match="q_max"):
        iq_critic_loss(batch(), C, GAMMA, expert_term="fix")


def test_chi2_regularizer_rows():
    reward = th.tensor([[1.0], [2.0], [3.0], [4.0]])
    assert chi2_regularizer(reward, NO_DONE, 2, C, GAMMA, "policy", False).item() == pytest.approx(0.5 * 2.5)
    assert chi2_regularizer(reward, NO_DONE, 2, C, GAMMA, "expert", False).item() == pytest.approx(0.5 * 12.5)
    assert chi2_regularizer(reward, NO_DONE, 2, C, GAMMA, "off", False).item() == 0.0


def test_iq_form_equals_scaled_least_squares_form_values_and_gradients():
    """LS-IQ Sec. 3: IQ (bootstrap, q_old_policy, expert+policy regulariser) = (c/2) * least squares - 1/c."""
    generator = th.Generator().manual_seed(0)
    n, c = 64, 0.7
    q = th.randn(2 * n, 1, generator=generator, requires_grad=True)
    v = th.randn(2 * n, 1, generator=generator)
    target = th.randn(2 * n, 1, generator=generator)
    b = IQBatch(q=q, v=v, target=target, done=th.zeros(2 * n, 1), n_policy=n)
    iq = iq_critic_loss(b, c, 0.99, policy_term="q_old_policy", regularizer="expert_and_policy").loss
    ls = least_squares_critic_loss(b, c, 0.99, q_max=1e9, expert_term="bootstrap", policy_term="q_old_policy",
                                   treat_absorbing=False).loss  # fmt: skip
    assert iq.item() == pytest.approx((c / 2) * ls.item() - 1 / c, rel=1e-5)
    (grad_iq,) = th.autograd.grad(iq, q)
    (grad_ls,) = th.autograd.grad(ls, q)
    assert th.allclose(grad_iq, (c / 2) * grad_ls, atol=1e-6)


def test_several_critics_average_the_single_critic_losses():
    q2 = th.cat([Q, Q + 1.0], dim=1)  # (N, 2)
    v2 = th.cat([V, V - 0.5], dim=1)
    both = least_squares_critic_loss(batch(q=q2, v=v2), C, GAMMA, 10.0, "fix", "value", False).loss
    first = least_squares_critic_loss(batch(), C, GAMMA, 10.0, "fix", "value", False).loss
    second = least_squares_critic_loss(batch(q=Q + 1.0, v=V - 0.5), C, GAMMA, 10.0, "fix", "value", False).loss
    assert both.item() == pytest.approx((first.item() + second.item()) / 2)


def test_gradient_penalty_of_a_linear_critic():
    # Q(s, a) = 3 s + 4 a has gradient norm 5 everywhere: penalty (5 - 1)^2 = 16
    def critic(obs, act):
        return 3.0 * obs + 4.0 * act

    obs_e, act_e, obs_p, act_p = th.randn(8, 1), th.randn(8, 1), th.randn(8, 1), th.randn(8, 1)
    penalty = gradient_penalty(critic, obs_e, act_e, obs_p, act_p, th.rand(8, 1))
    assert penalty.item() == pytest.approx(16.0)


def test_gradient_penalty_reaches_critic_parameters():
    net = th.nn.Linear(3, 1)
    penalty = gradient_penalty(lambda o, a: net(th.cat([o, a], dim=1)), th.randn(5, 2), th.randn(5, 1),
                               th.randn(5, 2), th.randn(5, 1), th.rand(5, 1))  # fmt: skip
    penalty.backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0


def test_squashed_gaussian_nll_by_hand():
    # a = tanh(0.5): the pre-tanh target is 0.5; N(0, 1): 0.5 * 0.25 + 0 + 0.5 log(2 pi) per dimension
    actions = th.tanh(th.tensor([[0.5, 0.5]]))
    nll = squashed_gaussian_nll(th.zeros(1, 2), th.zeros(1, 2), actions)
    assert nll.item() == pytest.approx(2 * (0.125 + 0.5 * math.log(2 * math.pi)), rel=1e-5)
    # log sigma = log 2 and mu = 0.5: the squared term vanishes, log 2 remains
    nll = squashed_gaussian_nll(th.full((1, 1), 0.5), th.full((1, 1), math.log(2.0)), th.tanh(th.tensor([[0.5]])))
    assert nll.item() == pytest.approx(math.log(2.0) + 0.5 * math.log(2 * math.pi), rel=1e-5)
    # actions on the bounds stay finite
    assert th.isfinite(squashed_gaussian_nll(th.zeros(2, 1), th.zeros(2, 1), th.tensor([[1.0], [-1.0]])))
    # a clip of 0.5 maps a = 1 to the target atanh(0.5) = 0.5493: 0.5 * 0.5493^2 + 0.5 log(2 pi) under N(0, 1)
    clipped = squashed_gaussian_nll(th.zeros(1, 1), th.zeros(1, 1), th.tensor([[1.0]]), clip=0.5)
    assert clipped.item() == pytest.approx(0.5 * math.atanh(0.5) ** 2 + 0.5 * math.log(2 * math.pi), rel=1e-5)


def test_diagonal_gaussian_kl_by_hand():
    # KL(N(0, 1) || N(1, 2^2)) = log 2 + (1 + 1) / 8 - 1/2
    kl = diagonal_gaussian_kl(th.zeros(1, 1), th.zeros(1, 1), th.ones(1, 1), th.full((1, 1), math.log(2.0)))
    assert kl.item() == pytest.approx(math.log(2.0) + 0.25 - 0.5, rel=1e-5)
    same = diagonal_gaussian_kl(th.ones(3, 2), th.zeros(3, 2), th.ones(3, 2), th.zeros(3, 2))
    assert same.item() == pytest.approx(0.0, abs=1e-7)


def test_discriminator_loss_and_reward_by_hand():
    # logit 0 -> D = 1/2: log 2 on each side
    assert discriminator_loss(th.zeros(4), th.zeros(2)).item() == pytest.approx(math.log(2.0), rel=1e-6)
    # expert logit 2 -> -log sigmoid(2); policy logit -1 -> -log(1 - sigmoid(-1)); each side averaged, then halved
    expected = 0.5 * (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0)))
    assert discriminator_loss(th.tensor([2.0]), th.tensor([-1.0])).item() == pytest.approx(expected, rel=1e-6)
    # -log(1 - D) = log(1 + e^logit)
    th.testing.assert_close(adversarial_reward(th.tensor([0.0, 3.0])), th.tensor([math.log(2.0), math.log(1 + math.exp(3.0))]))


def test_kl_to_standard_normal_and_dual_beta_update_by_hand():
    assert kl_to_standard_normal(th.zeros(3, 4), th.zeros(3, 4)).item() == pytest.approx(0.0, abs=1e-7)
    # KL(N(1, 2^2) || N(0, 1)) = log(1/2) + (4 + 1) / 2 - 1/2 per dimension
    kl = kl_to_standard_normal(th.ones(1, 2), th.full((1, 2), math.log(2.0)))
    assert kl.item() == pytest.approx(2 * (math.log(0.5) + 2.5 - 0.5), rel=1e-5)
    beta = dual_beta_update(th.tensor(0.1), th.tensor(0.6), information_constraint=0.1, beta_learning_rate=0.2)
    assert beta.item() == pytest.approx(0.2)
    never_negative = dual_beta_update(th.tensor(0.1), th.tensor(0.0), information_constraint=0.1, beta_learning_rate=10.0)
    assert never_negative.item() == 0.0
