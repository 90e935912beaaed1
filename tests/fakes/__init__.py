"""Strict test doubles of tensorrt and pycuda, installed through sys.modules by fixtures.

TensorRT cannot be installed where these tests run, so the doubles stand in for it; a test
checks every name the tensorrt double defines against tensorrt-stubs, so the double cannot
invent an API. See fake_tensorrt.py and fake_pycuda.py for what each models.
"""
