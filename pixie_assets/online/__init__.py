"""The online Pixie service: walks and the champion's lightweight score per request, every
candidate logged at the serving stage into the landing folder (``make serve``)."""
