"""Clinical catalogues: indications (course types), treatment areas and medical conditions."""
