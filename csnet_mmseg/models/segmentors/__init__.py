from .csnet_encoder_decoder import CSNetEncoderDecoder, load_layer_table

__all__ = ['CSNetEncoderDecoder', 'load_layer_table']
