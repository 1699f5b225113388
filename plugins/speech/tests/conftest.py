import torch
from threadpoolctl import threadpool_limits

# the tests run on 2 shared CPU cores: one thread (torch and BLAS) avoids oversubscription,
# which on a loaded machine makes small fits tens of times slower
torch.set_num_threads(1)
threadpool_limits(limits=1)
