"""Pictures of measured results, for the notebooks and for `figures/`, one module per lesson topic.

`style` holds what every figure shares (its dots per inch, font sizes and colours); a new
lesson's plot goes in the module of its topic, or a new one named for it.
"""
