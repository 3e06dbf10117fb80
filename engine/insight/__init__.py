"""Qt-free computations behind the window's views into a network: layer health, the step-through stepper, saliency."""
