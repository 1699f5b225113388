import torch

# the tests run on shared CPU cores: one thread avoids oversubscription
torch.set_num_threads(1)
