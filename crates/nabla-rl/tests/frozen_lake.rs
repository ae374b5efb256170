//! Q-learning on FrozenLake 8×8 (slippery) reaches the success rate of the optimal policy
//! that value iteration computes from the known model, within 5 points.

use nabla::Rng;
use nabla_rl::env::{FrozenLake, TimeLimited};
use nabla_rl::eval::evaluate;
use nabla_rl::tabular::{state_index, value_iteration, QLearning, QLearningConfig};
use nabla_rl::Action;

#[test]
fn q_learning_matches_value_iteration_on_frozenlake_8x8() {
    let mut env = TimeLimited::with_limit(FrozenLake::eight_by_eight(), 200);
    let episodes = 4000;
    let vi = value_iteration(&FrozenLake::eight_by_eight(), 0.999, 1e-10).unwrap();
    let optimal = evaluate(&mut env, episodes, 1, &mut |obs, _: &mut Rng| {
        Ok(Action::Discrete(vi.policy[state_index(obs)]))
    })
    .unwrap();
    let config = QLearningConfig {
        lr: 0.05,
        gamma: 0.999,
        exploration_fraction: 0.5,
        end_epsilon: 0.05,
        ..Default::default()
    };
    let mut agent = QLearning::new(&env, config).unwrap();
    agent.train(&mut env, 3_000_000, 0, &mut |_, _| {}).unwrap();
    let learned = evaluate(&mut env, episodes, 1, &mut |obs, _| {
        Ok(Action::Discrete(agent.greedy(state_index(obs))))
    })
    .unwrap();
    eprintln!(
        "value iteration {:.3}, q-learning {:.3}",
        optimal.mean, learned.mean
    );
    assert!(optimal.mean > 0.7, "optimal success rate {}", optimal.mean);
    assert!(
        learned.mean > optimal.mean - 0.05,
        "{} vs {}",
        learned.mean,
        optimal.mean
    );
}
