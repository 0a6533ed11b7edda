"""Lesson 2: what each layer of a real ImageNet CNN responds to, Grad-CAM, and the classic CNNs compared."""
