"""Track, Attend and Parse: the model (:mod:`.model`), its loss (:mod:`.loss`) and training (:mod:`.train`)."""
