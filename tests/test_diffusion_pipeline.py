"""`ClassConditionalPixelPipeline.__call__`: sampling and SDEdit (masked or not) in the pipeline itself, on tensors.

The reference values were computed by the free SDEdit loop that the pipeline replaced (``denoise`` in
``engines/diffusion/sdedit.py``, removed in 78a030a): the same seeds must give the same numbers.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engines.diffusion import ClassConditionalPixelPipeline, PixelPipelineOutput, make_scheduler
from engines.diffusion.tiny import tiny_pixel_pipeline
from conftest import guide_image, pixel_engine

GUIDE = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(42)) * 2 - 1
MASK = torch.zeros(1, 1, 16, 16)
MASK[..., 4:12, 3:10] = 1

#: case → (scheduler, call arguments, timesteps, sum of the whole batch, sample 1 at [:, ::5, ::5]).
REFERENCE = {
    "ddpm_mask": ("ddpm", dict(image=GUIDE, mask_image=MASK, class_labels=[1, 1], guidance_scale=2.0,
                               num_inference_steps=6, strength=0.8),
                  [666, 499, 332, 166], -106.787,
                  [0.76454, 0.20179, 0.8692, -0.14119, -0.51643, -1.0, 0.21141, -0.53387, 0.90895, -0.72081,
                   -0.50614, -0.34244, 0.40936, -0.70383, -0.32081, -0.952, 0.55949, -0.76705, -0.14103, -0.99272,
                   -0.12313, 0.51905, 0.96584, 0.54791, -0.40847, -0.74703, -0.17411, -0.12642, 0.37342, -0.48312,
                   -0.73593, -0.91797, 0.31124, -0.94694, -0.09243, 0.18878, -0.7633, -0.58691, -0.94643, -0.16322,
                   0.99582, 0.73825, -0.58245, -0.31588, -0.42384, 0.4756, -0.27057, -0.9366]),
    "ddim_eta": ("ddim", dict(image=GUIDE, class_labels="cat", guidance_scale=3.0, num_inference_steps=10,
                              strength=0.6, eta=0.5),
                 [599, 499, 399, 299, 199, 99], -204.0783,
                 [-0.82006, -1.0, 0.93887, -0.03601, 0.51226, -0.71913, 0.70598, -0.21139, 0.96987, -0.82543,
                  0.51604, -0.75543, -0.4803, 1.0, 0.41059, 0.16565, -1.0, 0.29015, -1.0, 0.65884, 0.8223, 0.11336,
                  0.31062, 1.0, 0.82258, -0.73564, -0.96563, 0.89325, 1.0, -1.0, -1.0, -0.21173, -0.16794, -0.47426,
                  0.49474, -0.13467, -0.87054, -0.7193, 0.29491, 0.65457, 0.26562, 0.82805, -0.31862, -0.79529,
                  -0.11217, 1.0, -0.7321, -0.71655]),
    "euler_noise": ("euler", dict(class_labels=["cat", "grumpy cat"], guidance_scale=3.0, num_inference_steps=5),
                    [999, 799, 599, 399, 199], -280.8431,
                    [-0.69972, -1.0, 1.0, -0.19033, 0.13575, -1.0, 1.0, -0.30833, 0.923, -1.0, 1.0, -0.67956, -1.0,
                     1.0, -0.00796, 0.24701, -1.0, 1.0, -1.0, 1.0, 0.53365, 0.71852, 1.0, 0.97153, 0.56769, -0.4985,
                     -0.96414, 1.0, 1.0, -0.56148, -1.0, -0.03121, 0.71759, 0.91689, 1.0, 1.0, -0.59464, -1.0,
                     -0.48917, 0.37442, 0.39493, -0.34706, 0.3178, 0.06473, 0.17712, 0.11194, -1.0, -0.15161]),
}


def with_scheduler(pipe: ClassConditionalPixelPipeline, name: str) -> ClassConditionalPixelPipeline:
    return ClassConditionalPixelPipeline(**{**pipe.components, "scheduler": make_scheduler(name, pipe.scheduler.config)},
                                         class_names=pipe.classes)


def gens(n: int = 2, base: int = 10) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(base + i) for i in range(n)]


@pytest.fixture(scope="module")
def pipe() -> ClassConditionalPixelPipeline:
    return tiny_pixel_pipeline()


@pytest.mark.parametrize("case", list(REFERENCE))
def test_same_numbers_as_the_loop_it_replaced(pipe, case):
    scheduler, kwargs, timesteps, total, values = REFERENCE[case]
    out = with_scheduler(pipe, scheduler)(generator=gens(), output_type="pt", **kwargs)
    assert isinstance(out, PixelPipelineOutput) and out.timesteps == timesteps and out.guided is True
    assert out.images.shape == (2, 3, 16, 16) and out.images.dtype == torch.float32
    assert abs(float(out.images.double().sum()) - total) < 1e-3
    np.testing.assert_allclose(out.images[1, :, ::5, ::5].flatten().numpy(), values, atol=1e-4)


def test_mask_keeps_the_image_exactly_outside(pipe):
    out = with_scheduler(pipe, "euler_a")(image=GUIDE, mask_image=MASK[0, 0], strength=0.9, num_inference_steps=5,
                                          generator=gens(3), output_type="pt").images
    keep = MASK.expand(3, 3, 16, 16) == 0
    assert torch.equal(out[keep], GUIDE.expand(3, 3, 16, 16)[keep])
    assert not torch.equal(out[~keep], GUIDE.expand(3, 3, 16, 16)[~keep])


def test_pil_and_tensors_are_the_same_input(pipe):
    img = guide_image(size=(16, 16))
    mask = Image.fromarray((MASK[0, 0].numpy() * 255).astype(np.uint8), mode="L")
    tensor = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None] * 2 - 1
    run = lambda image, mask_image: pipe(image=image, mask_image=mask_image, strength=0.7, num_inference_steps=4,
                                         generator=gens(1), output_type="pt").images
    torch.testing.assert_close(run(img, mask), run(tensor, MASK), atol=1e-5, rtol=0)
    torch.testing.assert_close(run(np.asarray(img), np.asarray(mask)), run(tensor, MASK), atol=1e-5, rtol=0)


def test_no_image_samples_from_noise_and_strength_one_ignores_the_image(pipe):
    a = pipe(num_inference_steps=3, generator=gens(2), output_type="pt").images
    b = pipe(image=GUIDE, strength=1.0, num_inference_steps=3, generator=gens(2), output_type="pt").images
    c = pipe(image=-GUIDE, strength=1.0, num_inference_steps=3, generator=gens(2), output_type="pt").images
    assert torch.equal(a, b) and torch.equal(b, c)
    pil = pipe(num_inference_steps=3, generator=gens(2)).images  # default output: PIL, like diffusers
    assert len(pil) == 2 and pil[0].size == (16, 16) and pil[0].mode == "RGB"
    as_np = pipe(num_inference_steps=3, generator=gens(2), output_type="np").images
    np.testing.assert_allclose(as_np, ((a + 1) / 2).permute(0, 2, 3, 1).numpy(), atol=1e-6)
    assert pipe(num_inference_steps=3, generator=gens(1), return_dict=False)[0][0].size == (16, 16)


def test_one_image_per_generator_whatever_the_batch(pipe):
    many = pipe(image=GUIDE, strength=0.6, num_inference_steps=5, generator=gens(3), output_type="pt").images
    one = pipe(image=GUIDE, strength=0.6, num_inference_steps=5, generator=[gens(3)[2]], output_type="pt").images
    torch.testing.assert_close(many[2:], one, atol=1e-5, rtol=0)
    ids = pipe(class_labels=[1, 0], num_inference_steps=2, generator=gens(2), output_type="pt").images
    names = pipe(class_labels=["grumpy cat", "cat"], num_inference_steps=2, generator=gens(2), output_type="pt").images
    assert torch.equal(ids, names)


def test_callback_sees_every_step_and_may_replace_the_sample(pipe):
    seen = []

    def on_step_end(p, i, t, tensors):
        seen.append((i, int(t), p.num_timesteps, sorted(tensors)))
        pred = tensors["pred_original_sample"]
        assert pred.shape == (2, 3, 16, 16) and pred.abs().max() <= 1
        keep = MASK.expand(2, 3, 16, 16) == 0  # x0 previews already show the image outside the mask
        assert torch.equal(pred[keep], GUIDE.expand(2, 3, 16, 16)[keep])
        return {"latents": torch.zeros_like(tensors["latents"])} if i == 1 else {}

    out = pipe(image=GUIDE, mask_image=MASK, strength=0.5, num_inference_steps=8, generator=gens(2),
               callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents", "pred_original_sample"],
               output_type="pt")
    assert [s[0] for s in seen] == [0, 1, 2, 3] and [s[1] for s in seen] == out.timesteps
    assert all(s[2] == 4 and s[3] == ["latents", "pred_original_sample"] for s in seen)


@pytest.mark.parametrize("kwargs,message", [
    (dict(mask_image=MASK), "mask_image needs an image"),
    (dict(image=GUIDE, strength=1.5), r"strength must be in \[0, 1\]"),
    (dict(image=GUIDE, strength=0.05, num_inference_steps=10), "at least 20 steps"),
    (dict(image=torch.zeros(1, 3, 8, 8)), "image is 8×8 but this model works at 16×16"),
    (dict(image=GUIDE.expand(3, 3, 16, 16), generator=[torch.Generator()] * 2), "3 images for a batch of 2"),
    (dict(class_labels=[0, 1], generator=[torch.Generator()] * 3), "2 class labels for 3 images"),
    (dict(class_labels=[7]), "Class id 7 is out of range"),
    (dict(output_type="latent"), "output_type must be"),
    (dict(callback_on_step_end_tensor_inputs=["noise"]), "'noise' is not one of"),
])
def test_bad_arguments_are_value_errors(pipe, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe(**{"num_inference_steps": 2, **kwargs})


def test_progress_is_never_an_option_or_a_metric():
    result = pixel_engine().from_guide(guide_image(), seed=0, steps=4, strength=0.5, progress=lambda *a: None)
    text = json.dumps({"options": result.options, "metrics": result.metrics}, default=repr)
    assert "progress" not in result.options and "function" not in text and "bound method" not in text
    assert not any(callable(v) for v in [*result.options.values(), *result.metrics.values()])


def test_a_seed_gives_the_same_image_with_a_bfloat16_unet(pipe):
    """The sample, its noise and the scheduler's arithmetic stay float32 whatever the UNet's dtype; only the UNet's
    input is cast. (Drawn in the UNet's dtype, the noise of a bf16 run on CUDA was another draw: the GPU check saw a
    different image, relative error 0.81.)"""
    import copy
    ref = pipe(image=GUIDE, strength=0.6, num_inference_steps=10, generator=gens(2), output_type="pt").images
    low = copy.deepcopy(pipe)
    low.unet.to(torch.bfloat16)
    dtypes = []

    def on_step_end(p, i, t, tensors):
        dtypes.append(tensors["latents"].dtype)
        return {}

    out = low(image=GUIDE, strength=0.6, num_inference_steps=10, generator=gens(2), output_type="pt",
              callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"]).images
    assert set(dtypes) == {torch.float32} and out.dtype == torch.float32
    assert float((out - ref).norm() / ref.norm()) < 0.05
