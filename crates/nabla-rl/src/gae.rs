//! Generalized advantage estimation (Schulman et al. 2016).

/// Advantages and returns of a rollout of `T` steps of `N` environments, all `[T, N]`
/// row-major (`t * N + i`): `dones[t*N+i]` is 1 when environment `i`'s episode ended with
/// step `t` (nothing is bootstrapped across it), `next_values[i]` is the value of the
/// observation after the last step.
///
/// `δₜ = rₜ + γ·V(sₜ₊₁)·(1 − doneₜ) − V(sₜ)`, `Aₜ = δₜ + γλ·(1 − doneₜ)·Aₜ₊₁`, returns
/// `Aₜ + V(sₜ)`.
pub fn gae(
    rewards: &[f32],
    values: &[f32],
    dones: &[f32],
    next_values: &[f32],
    gamma: f32,
    lambda: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = next_values.len();
    let steps = rewards.len() / n.max(1);
    let mut advantages = vec![0.0; rewards.len()];
    for i in 0..n {
        let mut last = 0.0;
        for t in (0..steps).rev() {
            let k = t * n + i;
            let next_value = if t + 1 == steps {
                next_values[i]
            } else {
                values[k + n]
            };
            let not_done = 1.0 - dones[k];
            let delta = rewards[k] + gamma * next_value * not_done - values[k];
            last = delta + gamma * lambda * not_done * last;
            advantages[k] = last;
        }
    }
    let returns = advantages.iter().zip(values).map(|(a, v)| a + v).collect();
    (advantages, returns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gae_matches_a_hand_computed_rollout() {
        // One environment, γ = λ = 0.5, the episode ends with step 1:
        // t=2: δ = 3 + 0.5·2 − 1.5 = 2.5, A = 2.5
        // t=1: δ = 2 + 0 − 1 = 1 (done: no bootstrap, no carry), A = 1
        // t=0: δ = 1 + 0.5·1 − 0.5 = 1, A = 1 + 0.25·1 = 1.25
        let (adv, ret) = gae(
            &[1.0, 2.0, 3.0],
            &[0.5, 1.0, 1.5],
            &[0.0, 1.0, 0.0],
            &[2.0],
            0.5,
            0.5,
        );
        assert_eq!(adv, vec![1.25, 1.0, 2.5]);
        assert_eq!(ret, vec![1.75, 2.0, 4.0]);
    }

    #[test]
    fn gae_keeps_environments_apart() {
        // Two environments interleaved [t, i]: each equals its own single-environment result.
        let (adv, _) = gae(
            &[1.0, 0.0, 2.0, 0.0, 3.0, 0.0],
            &[0.5, 0.0, 1.0, 0.0, 1.5, 0.0],
            &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            &[2.0, 0.0],
            0.5,
            0.5,
        );
        assert_eq!(adv, vec![1.25, 0.0, 1.0, 0.0, 2.5, 0.0]);
        // λ = 1, γ = 1, no dones: advantages are reward-to-go plus the bootstrap minus V.
        let (adv, _) = gae(&[1.0, 1.0], &[0.0, 0.0], &[0.0, 0.0], &[5.0], 1.0, 1.0);
        assert_eq!(adv, vec![7.0, 6.0]);
    }
}
