"""Lesson: number precision (FP32, FP16, BF16, FP8 bit by bit) and the same model in many precisions on each device."""
