#!/usr/bin/env python3
"""Same physics as Gymnasium: plays seeded random actions in each classic-control task in
Gymnasium and in nabla (`nabla rl replay`), starting nabla's episodes from Gymnasium's reset
states, and checks that every observation, reward and done flag agrees within --tol.

    python tools/rl_gym_parity.py [--nabla target/release/nabla] [--steps 10000] [--seed 0]

Needs `gymnasium` (pip install gymnasium). Exits non-zero on any difference.
"""

import argparse
import json
import subprocess
import sys

import gymnasium as gym
import numpy as np

TASKS = {
    "CartPole-v1": "cartpole",
    "Acrobot-v1": "acrobot",
    "MountainCar-v0": "mountaincar",
    "Pendulum-v1": "pendulum",
}


def state_of(env):
    """The physical state of the unwrapped task, as Python floats."""
    return [float(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64).ravel()]


def play(gym_id, steps, seed):
    """Commands for `nabla rl replay` and Gymnasium's answers to them."""
    env = gym.make(gym_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    commands = [{"state": state_of(env)}]
    expected = [{"obs": obs}]
    for _ in range(steps):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, _ = env.step(action)
        if np.ndim(action) == 0:
            commands.append({"action": int(action)})
        else:
            commands.append({"action": [float(v) for v in action]})
        expected.append(
            {"obs": obs, "reward": float(reward), "terminated": terminated, "truncated": truncated}
        )
        if terminated or truncated:
            obs, _ = env.reset()
            commands.append({"state": state_of(env)})
            expected.append({"obs": obs})
    return commands, expected


def compare(name, expected, got, tol):
    """The number of disagreeing lines; prints the first few."""
    if len(got) != len(expected):
        print(f"{name}: nabla answered {len(got)} lines for {len(expected)} commands")
        return 1
    bad = 0
    max_obs = max_reward = 0.0
    for i, (e, g) in enumerate(zip(expected, got)):
        d_obs = float(np.max(np.abs(np.asarray(e["obs"], dtype=np.float64) - np.asarray(g["obs"]))))
        max_obs = max(max_obs, d_obs)
        ok = d_obs <= tol
        if "reward" in e:
            d_r = abs(e["reward"] - g["reward"])
            max_reward = max(max_reward, d_r)
            ok = ok and d_r <= tol
            ok = ok and e["terminated"] == g["terminated"] and e["truncated"] == g["truncated"]
        if not ok:
            bad += 1
            if bad <= 5:
                print(f"{name}: line {i + 1} differs: gymnasium {e} nabla {g}")
    episodes = sum(1 for e in expected if "reward" not in e)
    status = "ok" if bad == 0 else f"{bad} lines differ"
    print(
        f"{name}: {len(expected) - episodes} steps, {episodes} episodes, "
        f"max |obs diff| {max_obs:.2e}, max |reward diff| {max_reward:.2e}: {status}"
    )
    return bad


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nabla", default="target/release/nabla", help="the nabla binary")
    p.add_argument("--steps", type=int, default=10_000, help="random steps per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=float, default=1e-6)
    args = p.parse_args()
    failures = 0
    for gym_id, name in TASKS.items():
        commands, expected = play(gym_id, args.steps, args.seed)
        stdin = "".join(json.dumps(c) + "\n" for c in commands)
        run = subprocess.run(
            [args.nabla, "rl", "replay", "--env", name],
            input=stdin, capture_output=True, text=True, check=False,
        )
        if run.returncode != 0:
            print(f"{name}: nabla rl replay failed: {run.stderr.strip()}")
            failures += 1
            continue
        got = [json.loads(line) for line in run.stdout.splitlines()]
        failures += compare(gym_id, expected, got, args.tol) > 0
    print("all tasks agree" if failures == 0 else f"{failures} tasks differ")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
