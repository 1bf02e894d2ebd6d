"""A trained run, shipped: `seq2seq-export RUN [RUN ...] OUT` writes a directory that
`seq2seq.load`, every command and seq2seq-serve read as they read a run, with no pickle in
it, and that `huggingface_hub.upload_folder` publishes as it is.

    write.py    the export: weights as safetensors, the config inference needs, tokenizer
                models, labels; an ensemble (members/) or an average of several runs
    card.py     its README.md, a Hugging Face model card, from what the run measured
    locate.py   what a run argument stands for: hf://owner/name through
                huggingface_hub's snapshot_download, an ensemble export's members
"""
