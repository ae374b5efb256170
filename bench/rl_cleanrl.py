"""PyTorch reference for the RL speed comparison: DQN and PPO on CartPole-v1 with the
algorithms and default hyperparameters of CleanRL's single-file dqn.py and ppo.py,
written here from their description (not their code), on Gymnasium's CartPole-v1.

    /work/venv/bin/python bench/rl_cleanrl.py --algo dqn|ppo [--steps 500000] [--seed 1] [--threads 1]

Prints one JSON line: {"algo", "steps", "threads", "seconds" (wall time of the training
loop, excluding imports), "episodes", "final_return" (mean return of the last 100
training episodes, the number `nabla rl train` prints at its end)}.

DQN (dqn.py): one env in a synchronous vector env, Q-network 120-84 ReLU, Adam lr 2.5e-4,
replay buffer of 10,000, γ 0.99, target network copied (τ = 1) every 500 steps, batch
128, ε linear from 1 to 0.05 over half the steps, learning from step 10,000, one gradient
step every 10 steps, MSE TD loss, terminations (not truncations) cut the bootstrap.

PPO (ppo.py): 4 envs × 128 steps per rollout, separate 64-64 tanh actor and critic with
orthogonal init (gain √2, heads 0.01 and 1), Adam lr 2.5e-4 (ε 1e-5) annealed linearly
to 0, GAE γ 0.99 λ 0.95, 4 epochs of 4 minibatches, advantages normalized per minibatch,
clip 0.2 for the ratio and for the value loss, entropy 0.01, value 0.5, global gradient
norm clipped to 0.5.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch
from torch import nn


def make_envs(n: int, seed: int) -> gym.vector.SyncVectorEnv:
    """n CartPole-v1 copies resetting in the same step they end (the old Gymnasium
    behaviour the reference scripts were written for); the ended episode's last
    observation is in info["final_obs"]."""
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(n)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    envs.action_space.seed(seed)
    return envs


class EpisodeReturns:
    """Sums rewards per env and keeps the returns of the last 100 finished episodes."""

    def __init__(self, n: int) -> None:
        self.running = np.zeros(n)
        self.last = deque(maxlen=100)
        self.episodes = 0

    def add(self, rewards: np.ndarray, done: np.ndarray) -> None:
        self.running += rewards
        for i in np.nonzero(done)[0]:
            self.last.append(self.running[i])
            self.running[i] = 0.0
            self.episodes += 1

    def mean(self) -> float:
        return float(np.mean(self.last)) if self.last else float("nan")


def mlp(sizes: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def train_dqn(steps: int, seed: int) -> EpisodeReturns:
    lr, buffer_size, gamma, target_every, batch = 2.5e-4, 10_000, 0.99, 500, 128
    start_e, end_e, explore_frac, learning_starts, train_every = 1.0, 0.05, 0.5, 10_000, 10
    envs = make_envs(1, seed)
    obs_dim = envs.single_observation_space.shape[0]
    n_actions = envs.single_action_space.n
    q = mlp([obs_dim, 120, 84, n_actions], nn.ReLU)
    target = mlp([obs_dim, 120, 84, n_actions], nn.ReLU)
    target.load_state_dict(q.state_dict())
    opt = torch.optim.Adam(q.parameters(), lr=lr)
    # Ring replay buffer of (obs, action, reward, next obs, terminated).
    b_obs = np.zeros((buffer_size, obs_dim), np.float32)
    b_next = np.zeros((buffer_size, obs_dim), np.float32)
    b_act = np.zeros(buffer_size, np.int64)
    b_rew = np.zeros(buffer_size, np.float32)
    b_term = np.zeros(buffer_size, np.float32)
    size = pos = 0
    returns = EpisodeReturns(1)
    obs, _ = envs.reset(seed=seed)
    for step in range(steps):
        eps = max(end_e, start_e + (end_e - start_e) * step / (explore_frac * steps))
        if random.random() < eps:
            actions = envs.action_space.sample()
        else:
            with torch.no_grad():
                actions = q(torch.from_numpy(obs)).argmax(1).numpy()
        next_obs, rewards, term, trunc, info = envs.step(actions)
        done = term | trunc
        returns.add(rewards, done)
        real_next = next_obs.copy()
        if done[0]:
            real_next[0] = info["final_obs"][0]
        b_obs[pos], b_next[pos], b_act[pos] = obs[0], real_next[0], actions[0]
        b_rew[pos], b_term[pos] = rewards[0], float(term[0])
        pos = (pos + 1) % buffer_size
        size = min(size + 1, buffer_size)
        obs = next_obs
        if step > learning_starts:
            if step % train_every == 0:
                idx = np.random.randint(0, size, batch)
                with torch.no_grad():
                    target_max = target(torch.from_numpy(b_next[idx])).max(1).values
                    td = torch.from_numpy(b_rew[idx]) + gamma * target_max * (
                        1.0 - torch.from_numpy(b_term[idx])
                    )
                pred = q(torch.from_numpy(b_obs[idx])).gather(1, torch.from_numpy(b_act[idx])[:, None])
                loss = nn.functional.mse_loss(pred.squeeze(1), td)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if step % target_every == 0:
                target.load_state_dict(q.state_dict())
    envs.close()
    return returns


def ortho(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        g = 2.0**0.5
        self.critic = nn.Sequential(
            ortho(nn.Linear(obs_dim, 64), g), nn.Tanh(),
            ortho(nn.Linear(64, 64), g), nn.Tanh(),
            ortho(nn.Linear(64, 1), 1.0),
        )
        self.actor = nn.Sequential(
            ortho(nn.Linear(obs_dim, 64), g), nn.Tanh(),
            ortho(nn.Linear(64, 64), g), nn.Tanh(),
            ortho(nn.Linear(64, n_actions), 0.01),
        )


def train_ppo(steps: int, seed: int) -> EpisodeReturns:
    n_envs, n_steps, lr, gamma, lam = 4, 128, 2.5e-4, 0.99, 0.95
    epochs, minibatches, clip, ent_coef, vf_coef, max_norm = 4, 4, 0.2, 0.01, 0.5, 0.5
    envs = make_envs(n_envs, seed)
    obs_dim = envs.single_observation_space.shape[0]
    net = ActorCritic(obs_dim, envs.single_action_space.n)
    opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-5)
    batch = n_envs * n_steps
    mb = batch // minibatches
    iterations = steps // batch
    r_obs = torch.zeros(n_steps, n_envs, obs_dim)
    r_act = torch.zeros(n_steps, n_envs, dtype=torch.long)
    r_logp = torch.zeros(n_steps, n_envs)
    r_rew = torch.zeros(n_steps, n_envs)
    r_done = torch.zeros(n_steps, n_envs)
    r_val = torch.zeros(n_steps, n_envs)
    returns = EpisodeReturns(n_envs)
    obs_np, _ = envs.reset(seed=seed)
    obs = torch.from_numpy(obs_np)
    done = torch.zeros(n_envs)
    for it in range(iterations):
        opt.param_groups[0]["lr"] = lr * (1.0 - it / iterations)
        for t in range(n_steps):
            r_obs[t], r_done[t] = obs, done
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=net.actor(obs))
                action = dist.sample()
                r_logp[t] = dist.log_prob(action)
                r_val[t] = net.critic(obs).squeeze(1)
            r_act[t] = action
            obs_np, rew, term, trunc, _ = envs.step(action.numpy())
            ended = term | trunc
            returns.add(rew, ended)
            r_rew[t] = torch.from_numpy(rew).float()
            obs, done = torch.from_numpy(obs_np), torch.from_numpy(ended).float()
        # GAE(λ); like the reference, an ended episode (terminated or truncated) stops the bootstrap.
        with torch.no_grad():
            next_val = net.critic(obs).squeeze(1)
            adv = torch.zeros(n_steps, n_envs)
            last = torch.zeros(n_envs)
            for t in reversed(range(n_steps)):
                not_done = 1.0 - (done if t == n_steps - 1 else r_done[t + 1])
                v_next = next_val if t == n_steps - 1 else r_val[t + 1]
                delta = r_rew[t] + gamma * v_next * not_done - r_val[t]
                last = delta + gamma * lam * not_done * last
                adv[t] = last
            ret = adv + r_val
        f_obs, f_act, f_logp = r_obs.reshape(batch, -1), r_act.reshape(-1), r_logp.reshape(-1)
        f_adv, f_ret, f_val = adv.reshape(-1), ret.reshape(-1), r_val.reshape(-1)
        for _ in range(epochs):
            perm = torch.randperm(batch)
            for start in range(0, batch, mb):
                i = perm[start : start + mb]
                dist = torch.distributions.Categorical(logits=net.actor(f_obs[i]))
                logp = dist.log_prob(f_act[i])
                ratio = (logp - f_logp[i]).exp()
                a = f_adv[i]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - clip, 1 + clip)).mean()
                v = net.critic(f_obs[i]).squeeze(1)
                v_clipped = f_val[i] + (v - f_val[i]).clamp(-clip, clip)
                v_loss = 0.5 * torch.max((v - f_ret[i]) ** 2, (v_clipped - f_ret[i]) ** 2).mean()
                loss = pg_loss - ent_coef * dist.entropy().mean() + vf_coef * v_loss
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), max_norm)
                opt.step()
    envs.close()
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", choices=["dqn", "ppo"], required=True)
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.steps < 1 or args.threads < 1:
        parser.error("--steps and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    returns = (train_dqn if args.algo == "dqn" else train_ppo)(args.steps, args.seed)
    seconds = time.perf_counter() - start
    print(json.dumps({"algo": args.algo, "steps": args.steps, "threads": args.threads,
                      "seconds": seconds, "episodes": returns.episodes,
                      "final_return": returns.mean()}), flush=True)


if __name__ == "__main__":
    main()
