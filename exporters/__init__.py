"""The publisher feed pipeline: selection, projection through the domain rules, formats,
manifest, signing, encryption and delivery. (Arrives with the publisher-feeds issue.)"""
