# Writes test/fixtures/diffusers-schedulers/golden.json: what diffusers' own schedulers return, for the test of
# samplerFromSchedulerConfig (test/diffusion/scheduler-golden.test.ts). For each case it records
# scheduler.timesteps and scheduler.sigmas after set_timesteps — called as the pipelines call it: FluxPipeline's
# sigmas=linspace(1, 1/N, N) and mu=calculate_shift(image_seq_len, …) when image_seq_len is given, else
# set_timesteps(N) — and, step by step, the model output fed in and scheduler.step's result (each step's input x
# is the previous result, the first one recorded as x0). DDIM with eta > 0 also records the variance noise.
#
# Run with diffusers, torch and numpy importable:  python3 scripts/diffusers-scheduler-golden.py OUT.json
# The fixture in the repository came from diffusers' scheduler modules at commit 58eb52c0 with torch 1.13.1
# (Debian's CPU build, capability AVX2) and numpy 1.24.2; torch 1.x fills float32 linspace (the β schedules)
# with AVX2 vectors, hence torch_linspace "torch1-avx2" in the file.
import json
import sys

import numpy as np
import torch
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler

CLASSES = {c.__name__: c for c in (DDIMScheduler, DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler)}


def calculate_shift(image_seq_len, base_seq_len=256, max_seq_len=4096, base_shift=0.5, max_shift=1.15):
    # FluxPipeline's
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    b = base_shift - m * base_seq_len
    return image_seq_len * m + b


FLUX_DEV = dict(_class_name='FlowMatchEulerDiscreteScheduler', base_image_seq_len=256, base_shift=0.5, max_image_seq_len=4096,
                max_shift=1.15, num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True)
FLUX_SCHNELL = dict(FLUX_DEV, shift=1.0, use_dynamic_shifting=False)
SD3 = dict(_class_name='FlowMatchEulerDiscreteScheduler', num_train_timesteps=1000, shift=3.0)
WAN = dict(_class_name='UniPCMultistepScheduler', beta_end=0.02, beta_schedule='linear', beta_start=0.0001, disable_corrector=[],
           dynamic_thresholding_ratio=0.995, final_sigmas_type='zero', flow_shift=3.0, lower_order_final=True,
           num_train_timesteps=1000, predict_x0=True, prediction_type='flow_prediction', rescale_betas_zero_snr=False,
           sample_max_value=1.0, solver_order=2, solver_p=None, solver_type='bh2', steps_offset=0, thresholding=False,
           timestep_spacing='linspace', trained_betas=None, use_beta_sigmas=False, use_exponential_sigmas=False,
           use_flow_sigmas=True, use_karras_sigmas=False)
SD_DDIM = dict(_class_name='DDIMScheduler', beta_end=0.012, beta_schedule='scaled_linear', beta_start=0.00085, clip_sample=False,
               num_train_timesteps=1000, set_alpha_to_one=False, steps_offset=1, trained_betas=None)
DIT_DDIM = dict(_class_name='DDIMScheduler', beta_end=0.02, beta_schedule='linear', beta_start=0.0001, clip_sample=False,
                num_train_timesteps=1000, prediction_type='epsilon', set_alpha_to_one=True, steps_offset=0)
SD_DPM = dict(_class_name='DPMSolverMultistepScheduler', beta_end=0.012, beta_schedule='scaled_linear', beta_start=0.00085,
              num_train_timesteps=1000, steps_offset=1, algorithm_type='dpmsolver++', solver_order=2, lower_order_final=True)

CASES = [
    dict(config=SD3, steps=28),
    dict(config=dict(SD3, shift=3.1), steps=10),
    dict(config=FLUX_DEV, steps=28, image_seq_len=4096),
    dict(config=FLUX_DEV, steps=20, image_seq_len=1024),
    dict(config=dict(FLUX_DEV, time_shift_type='linear'), steps=8, image_seq_len=2048),
    dict(config=FLUX_DEV, steps=12, mu=0.9, flow_sigmas='scheduler'),
    dict(config=FLUX_SCHNELL, steps=4, image_seq_len=4096),
    dict(config=FLUX_SCHNELL, steps=4),
    dict(config=WAN, steps=1),
    dict(config=WAN, steps=2),
    dict(config=WAN, steps=30),
    dict(config=dict(WAN, flow_shift=5.0), steps=50),
    dict(config=dict(WAN, disable_corrector=[0, 2]), steps=8),
    dict(config=dict(WAN, solver_order=1), steps=6),
    dict(config=dict(SD_DDIM, timestep_spacing='leading'), steps=50),
    dict(config=dict(SD_DDIM, timestep_spacing='linspace'), steps=20),
    dict(config=dict(SD_DDIM, timestep_spacing='trailing'), steps=25),
    dict(config=dict(DIT_DDIM, timestep_spacing='trailing', clip_sample=True), steps=10),
    dict(config=dict(DIT_DDIM, timestep_spacing='linspace', beta_schedule='squaredcos_cap_v2'), steps=7),
    dict(config=DIT_DDIM, steps=10, eta=0.5),
    dict(config=dict(SD_DPM, timestep_spacing='leading'), steps=25),
    dict(config=dict(SD_DPM, timestep_spacing='linspace'), steps=20),
    dict(config=dict(SD_DPM, timestep_spacing='trailing', final_sigmas_type='sigma_min'), steps=10),
    dict(config=dict(SD_DPM, timestep_spacing='linspace', final_sigmas_type='sigma_min', lower_order_final=False), steps=8),
    dict(config=dict(SD_DPM, timestep_spacing='linspace', beta_schedule='squaredcos_cap_v2', steps_offset=0), steps=15),
]


def values(t):
    return [float(v) for v in t.flatten()]


def run(case, rs):
    config = dict(case['config'])
    scheduler = CLASSES[config.pop('_class_name')].from_config(config)
    n = case['steps']
    if 'image_seq_len' in case or 'mu' in case:
        mu = case.get('mu')
        if mu is None:
            mu = calculate_shift(case['image_seq_len'], config.get('base_image_seq_len', 256), config.get('max_image_seq_len', 4096),
                                 config.get('base_shift', 0.5), config.get('max_shift', 1.15))
        if case.get('flow_sigmas') == 'scheduler':
            scheduler.set_timesteps(n, mu=mu)
        else:
            scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=mu)
    else:
        scheduler.set_timesteps(n)
    if not isinstance(scheduler, DDIMScheduler):
        scheduler.set_begin_index(0)  # as FluxPipeline and WanPipeline do
    shape = (1, 1, 2, 2)
    x = torch.tensor(rs.randn(*shape).astype(np.float32))
    record = dict(case, x0=values(x), timesteps=[float(t) for t in scheduler.timesteps],
                  sigmas=None if isinstance(scheduler, DDIMScheduler) else values(scheduler.sigmas), trace=[])
    for t in scheduler.timesteps:
        model_output = (0.8 * x + 0.4 * torch.tensor(rs.randn(*shape).astype(np.float32))).to(torch.float32)
        step = dict(model_output=values(model_output))
        if isinstance(scheduler, DDIMScheduler):
            eta = case.get('eta', 0.0)
            noise = torch.tensor(rs.randn(*shape).astype(np.float32)) if eta > 0 else None
            x = scheduler.step(model_output, t, x, eta=eta, variance_noise=noise, return_dict=False)[0]
            if noise is not None:
                step['noise'] = values(noise)
        else:
            x = scheduler.step(model_output, t, x, return_dict=False)[0]
        step['prev_sample'] = values(x)
        record['trace'].append(step)
    return record


def main():
    rs = np.random.RandomState(0)
    out = dict(generator='scripts/diffusers-scheduler-golden.py', torch=torch.__version__, numpy=np.__version__,
               torch_linspace='torch1-avx2' if torch.__version__.startswith('1.') else 'torch2', cases=[run(c, rs) for c in CASES])
    with open(sys.argv[1], 'w') as f:
        json.dump(out, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
