"""GAN engine: StyleGAN2 and DCGAN networks, checkpoint readers, and the operations built on them."""
