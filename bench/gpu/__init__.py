"""One prepared GPU training burst: pack data + wheels here, train StyleGAN2 then the DDPM there, bring
the fp16 checkpoints back. See bench/gpu/README.md."""
