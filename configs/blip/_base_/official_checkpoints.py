# Where the authors' checkpoints are (github.com/salesforce/BLIP, README). The
# configs of the official models (*_official.py, blip-large_*.py) start
# fine-tuning from the pre-trained ones with `load_from`, as the README's
# fine-tuning instructions do, and metafile.yml names the fine-tuned ones.
# Official files convert to our format when they are loaded. Offline, put
# the file in torch hub's cache (~/.cache/torch/hub/checkpoints/) or set
# load_from to a local path.
official_models = 'https://storage.googleapis.com/sfr-vision-language-research/BLIP/models'
