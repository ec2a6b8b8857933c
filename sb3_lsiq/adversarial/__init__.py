from sb3_lsiq.adversarial.adversarial import GAIL, VAIL, AdversarialImitation
from sb3_lsiq.adversarial.discriminator import Discriminator

__all__ = ["GAIL", "VAIL", "AdversarialImitation", "Discriminator"]
