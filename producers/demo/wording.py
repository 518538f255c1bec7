"""The words of the demo: French offer names, descriptions in six languages, people and slugs.

Names are built from type words and the commune's real name with French elision ("Gîte
d'Étretat", "Hôtel du Havre", "Fête du cidre aux Andelys"). Descriptions say the same thing in
every language they are given in (one setting and one highlight drawn per offer, then rendered per
language), so a translation is a translation. Every table is a tuple: draws from them are
reproducible under a seeded `random.Random`.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

from hub.core.offer import LocalizedText, OfferType, TranslationSource

# Probability that a description exists in each language besides French (always present): the
# further from the Channel's visitors, the rarer.
TRANSLATION_ODDS: tuple[tuple[str, float], ...] = (
    ("en", 0.8),
    ("de", 0.5),
    ("nl", 0.35),
    ("it", 0.2),
    ("es", 0.15),
)
MACHINE_TRANSLATION_ODDS = 0.35  # of the translations that exist

_SAINTS: tuple[str, ...] = (
    "Martin",
    "Pierre",
    "Germain",
    "Jean-Baptiste",
    "Sauveur",
    "Ouen",
    "Vigor",
    "Gervais",
    "Georges",
    "Laurent",
    "Michel",
    "Nicolas",
)

# `{de}` becomes "de Caen" / "d'Étretat" / "du Havre", `{a}` "à Caen" / "au Havre", `{commune}`
# the bare name, `{saint}` a patron saint.
_NAME_PATTERNS: Mapping[OfferType, tuple[str, ...]] = MappingProxyType(
    {
        OfferType.HOT: (
            "Hôtel {de}",
            "Hôtel de la Plage",
            "Hôtel du Golf",
            "Le Relais {de}",
            "Hôtel Le Normandy",
            "Hôtel de la Poste",
            "Hôtel des Voyageurs",
            "Le Manoir {de}",
            "Hôtel Les Tilleuls",
            "Hôtel du Château",
        ),
        OfferType.HPA: (
            "Camping municipal {de}",
            "Camping Les Pommiers",
            "Camping de la Plage",
            "Camping Le Bel Air",
            "Camping La Vallée",
            "Camping Les Peupliers",
            "Camping du Lac",
        ),
        OfferType.HLO: (
            "Gîte {de}",
            "Gîte La Chaumière",
            "Gîte Le Pressoir",
            "Chambre d'hôtes Le Clos Fleuri",
            "Chambres d'hôtes La Longère",
            "Meublé Les Hortensias",
            "Gîte Le Colombier",
            "La Ferme {de}",
            "Chambre d'hôtes Le Verger",
            "Gîte Le Fournil",
            "Meublé La Maison du Pêcheur",
        ),
        OfferType.RES: (
            "Restaurant Le Normand",
            "Crêperie Le Blé Noir",
            "Brasserie du Port",
            "Auberge {de}",
            "Restaurant La Marée",
            "Le Bistrot Gourmand",
            "La Table du Marché",
            "Restaurant Les Embruns",
            "Auberge du Pressoir",
            "Le Café {de}",
        ),
        OfferType.LOI: (
            "Golf {de}",
            "Centre équestre {de}",
            "Parc de loisirs Le Bocage",
            "Piscine {de}",
            "Base de loisirs {de}",
            "Cinéma Le Normandy",
            "Casino {de}",
            "Bowling {de}",
        ),
        OfferType.ASC: (
            "Club nautique {de}",
            "École de voile {de}",
            "Location de vélos {de}",
            "Char à voile {de}",
            "Canoë-kayak {de}",
            "Atelier de poterie {de}",
            "Salle d'escalade {de}",
        ),
        OfferType.DEG: (
            "Cidrerie {de}",
            "Ferme du Pressoir",
            "Domaine de la Pommeraie",
            "Fromagerie {de}",
            "Distillerie {de}",
            "Ferme des Vergers",
            "Cave du Calvados",
        ),
        OfferType.PCU: (
            "Église Saint-{saint} {de}",
            "Château {de}",
            "Abbaye {de}",
            "Musée {de}",
            "Manoir {de}",
            "Moulin {de}",
            "Musée d'art et d'histoire {de}",
            "Chapelle Saint-{saint}",
        ),
        OfferType.PNA: (
            "Forêt {de}",
            "Marais {de}",
            "Falaises {de}",
            "Étang {de}",
            "Vallée {de}",
            "Jardin botanique {de}",
            "Dunes {de}",
            "Bois {de}",
        ),
        OfferType.FMA: (
            "Fête de la coquille Saint-Jacques {a}",
            "Festival des arts de la rue {a}",
            "Marché de Noël {de}",
            "Foire aux fromages {de}",
            "Fête du cidre {a}",
            "Fête de la mer {a}",
            "Festival de jazz {de}",
            "Brocante {de}",
            "Fête médiévale {de}",
            "Concert d'orgue en l'église Saint-{saint}",
            "Fête de la pomme {a}",
            "Trail des falaises {de}",
            "Marché des producteurs {de}",
        ),
        OfferType.ITI: (
            "Boucle {de}",
            "Circuit des moulins {de}",
            "Sentier du littoral {de}",
            "Randonnée des chapelles {de}",
            "Boucle vélo {de}",
            "Sentier des vergers",
            "Chemin des douaniers",
        ),
        OfferType.ORG: (
            "Office de tourisme {de}",
            "Syndicat d'initiative {de}",
            "Association des amis {de}",
            "Maison du tourisme {de}",
        ),
        OfferType.VIL: ("{commune}",),
        OfferType.COM: (
            "Boulangerie {de}",
            "Boutique du terroir",
            "Cave {de}",
            "Librairie {de}",
            "Poterie {de}",
            "Épicerie fine {de}",
            "Biscuiterie {de}",
        ),
    }
)

_TYPE_NOUNS: Mapping[OfferType, tuple[str, str, str, str, str, str]] = MappingProxyType(
    {
        # fr, en, de, nl, it, es
        OfferType.HOT: ("un hôtel", "a hotel", "ein Hotel", "een hotel", "un albergo", "un hotel"),
        OfferType.HPA: (
            "un camping",
            "a campsite",
            "ein Campingplatz",
            "een camping",
            "un campeggio",
            "un camping",
        ),
        OfferType.HLO: (
            "un hébergement de vacances",
            "a holiday rental",
            "eine Ferienunterkunft",
            "een vakantiewoning",
            "una casa vacanze",
            "un alojamiento rural",
        ),
        OfferType.RES: (
            "un restaurant",
            "a restaurant",
            "ein Restaurant",
            "een restaurant",
            "un ristorante",
            "un restaurante",
        ),
        OfferType.LOI: (
            "un lieu de loisirs",
            "a leisure venue",
            "eine Freizeiteinrichtung",
            "een recreatieplek",
            "un luogo di svago",
            "un lugar de ocio",
        ),
        OfferType.ASC: (
            "une activité sportive et culturelle",
            "a sports and cultural activity",
            "eine Sport- und Kulturaktivität",
            "een sport- en cultuuractiviteit",
            "un'attività sportiva e culturale",
            "una actividad deportiva y cultural",
        ),
        OfferType.DEG: (
            "une dégustation de produits du terroir",
            "a tasting of local produce",
            "eine Verkostung regionaler Produkte",
            "een proeverij van streekproducten",
            "una degustazione di prodotti locali",
            "una degustación de productos locales",
        ),
        OfferType.PCU: (
            "un site du patrimoine",
            "a heritage site",
            "eine Kulturerbestätte",
            "een erfgoedlocatie",
            "un sito del patrimonio",
            "un lugar patrimonial",
        ),
        OfferType.PNA: (
            "un site naturel",
            "a natural site",
            "ein Naturgebiet",
            "een natuurgebied",
            "un sito naturale",
            "un espacio natural",
        ),
        OfferType.FMA: (
            "un événement",
            "an event",
            "eine Veranstaltung",
            "een evenement",
            "un evento",
            "un evento",
        ),
        OfferType.ITI: (
            "un itinéraire de randonnée",
            "a walking and cycling route",
            "eine Wander- und Radroute",
            "een wandel- en fietsroute",
            "un itinerario escursionistico",
            "una ruta de senderismo",
        ),
        OfferType.ORG: (
            "un organisme touristique",
            "a tourism organisation",
            "eine Tourismusorganisation",
            "een toeristische organisatie",
            "un ente turistico",
            "un organismo turístico",
        ),
        OfferType.VIL: (
            "une commune",
            "a town",
            "eine Gemeinde",
            "een gemeente",
            "un comune",
            "un municipio",
        ),
        OfferType.COM: (
            "un commerce",
            "a shop",
            "ein Geschäft",
            "een winkel",
            "un negozio",
            "una tienda",
        ),
    }
)

_HIGHLIGHTS: Mapping[OfferType, tuple[str, str, str, str, str, str]] = MappingProxyType(
    {
        OfferType.HOT: (
            "Chambres confortables et petit-déjeuner aux produits locaux.",
            "Comfortable rooms and a breakfast of local produce.",
            "Komfortable Zimmer und ein Frühstück mit regionalen Produkten.",
            "Comfortabele kamers en een ontbijt met streekproducten.",
            "Camere confortevoli e colazione con prodotti locali.",
            "Habitaciones confortables y desayuno con productos locales.",
        ),
        OfferType.HPA: (
            "Emplacements ombragés, piscine chauffée et animations en été.",
            "Shaded pitches, a heated pool and entertainment in summer.",
            "Schattige Stellplätze, beheiztes Schwimmbad und Animation im Sommer.",
            "Schaduwrijke plaatsen, een verwarmd zwembad en animatie in de zomer.",
            "Piazzole ombreggiate, piscina riscaldata e animazione in estate.",
            "Parcelas con sombra, piscina climatizada y animación en verano.",
        ),
        OfferType.HLO: (
            "Maison en pierre rénovée avec jardin clos, idéale pour les familles.",
            "A renovated stone house with an enclosed garden, ideal for families.",
            "Renoviertes Steinhaus mit eingezäuntem Garten, ideal für Familien.",
            "Gerenoveerd stenen huis met omheinde tuin, ideaal voor gezinnen.",
            "Casa in pietra ristrutturata con giardino recintato, ideale per le famiglie.",
            "Casa de piedra reformada con jardín cerrado, ideal para familias.",
        ),
        OfferType.RES: (
            "Cuisine de saison autour des produits de la mer et du terroir normand.",
            "Seasonal cooking with seafood and Norman produce.",
            "Saisonale Küche mit Meeresfrüchten und normannischen Produkten.",
            "Seizoensgebonden keuken met zeevruchten en Normandische producten.",
            "Cucina di stagione con frutti di mare e prodotti normanni.",
            "Cocina de temporada con mariscos y productos normandos.",
        ),
        OfferType.LOI: (
            "Activités pour toute la famille, en plein air comme à l'abri.",
            "Activities for the whole family, outdoors and under cover.",
            "Aktivitäten für die ganze Familie, drinnen wie draußen.",
            "Activiteiten voor het hele gezin, binnen en buiten.",
            "Attività per tutta la famiglia, all'aperto e al coperto.",
            "Actividades para toda la familia, al aire libre y a cubierto.",
        ),
        OfferType.ASC: (
            "Encadrement par des moniteurs diplômés, matériel fourni.",
            "Led by qualified instructors, equipment provided.",
            "Betreuung durch ausgebildete Lehrer, Ausrüstung inbegriffen.",
            "Begeleiding door gediplomeerde instructeurs, materiaal inbegrepen.",
            "Istruttori qualificati, attrezzatura fornita.",
            "Monitores titulados, material incluido.",
        ),
        OfferType.DEG: (
            "Visite des chais et dégustation de cidre, pommeau et calvados.",
            "Cellar tour and tasting of cider, pommeau and calvados.",
            "Kellerführung und Verkostung von Cidre, Pommeau und Calvados.",
            "Rondleiding door de kelders en proeverij van cider, pommeau en calvados.",
            "Visita delle cantine e degustazione di sidro, pommeau e calvados.",
            "Visita a las bodegas y degustación de sidra, pommeau y calvados.",
        ),
        OfferType.PCU: (
            "Visites guidées toute l'année et expositions temporaires.",
            "Guided tours all year round and temporary exhibitions.",
            "Ganzjährig Führungen und Wechselausstellungen.",
            "Het hele jaar rondleidingen en tijdelijke tentoonstellingen.",
            "Visite guidate tutto l'anno e mostre temporanee.",
            "Visitas guiadas todo el año y exposiciones temporales.",
        ),
        OfferType.PNA: (
            "Sentiers balisés, faune et flore préservées, panoramas remarquables.",
            "Waymarked trails, protected wildlife and remarkable views.",
            "Markierte Wege, geschützte Tier- und Pflanzenwelt, herrliche Ausblicke.",
            "Bewegwijzerde paden, beschermde flora en fauna en prachtige uitzichten.",
            "Sentieri segnalati, flora e fauna protette, panorami straordinari.",
            "Senderos señalizados, flora y fauna protegidas y vistas excepcionales.",
        ),
        OfferType.FMA: (
            "Animations, concerts et marché de producteurs pour petits et grands.",
            "Entertainment, concerts and a farmers' market for young and old.",
            "Unterhaltung, Konzerte und ein Bauernmarkt für Groß und Klein.",
            "Animatie, concerten en een boerenmarkt voor jong en oud.",
            "Animazioni, concerti e mercato dei produttori per grandi e piccoli.",
            "Animaciones, conciertos y mercado de productores para grandes y pequeños.",
        ),
        OfferType.ITI: (
            "Boucle balisée à parcourir à pied ou à vélo, entre bocage et patrimoine.",
            "A waymarked loop to walk or cycle, through hedgerows and heritage.",
            "Markierter Rundweg zu Fuß oder mit dem Rad, durch Heckenlandschaft und Kulturerbe.",
            "Bewegwijzerde lus te voet of per fiets, langs hagen en erfgoed.",
            "Anello segnalato da percorrere a piedi o in bici, tra siepi e patrimonio.",
            "Circuito señalizado a pie o en bicicleta, entre setos y patrimonio.",
        ),
        OfferType.ORG: (
            "Accueil, information et réservation pour votre séjour.",
            "Welcome, information and booking for your stay.",
            "Empfang, Information und Buchung für Ihren Aufenthalt.",
            "Onthaal, informatie en reserveringen voor uw verblijf.",
            "Accoglienza, informazioni e prenotazioni per il vostro soggiorno.",
            "Acogida, información y reservas para su estancia.",
        ),
        OfferType.VIL: (
            "Patrimoine préservé, commerces et marché hebdomadaire.",
            "Preserved heritage, shops and a weekly market.",
            "Erhaltenes Kulturerbe, Geschäfte und ein Wochenmarkt.",
            "Bewaard erfgoed, winkels en een weekmarkt.",
            "Patrimonio preservato, negozi e mercato settimanale.",
            "Patrimonio conservado, comercios y mercado semanal.",
        ),
        OfferType.COM: (
            "Produits régionaux, artisanat et idées cadeaux.",
            "Regional produce, crafts and gift ideas.",
            "Regionale Produkte, Kunsthandwerk und Geschenkideen.",
            "Streekproducten, ambachten en cadeau-ideeën.",
            "Prodotti regionali, artigianato e idee regalo.",
            "Productos regionales, artesanía e ideas para regalar.",
        ),
    }
)

_ALL = ("14", "27", "50", "61", "76")

# (departments where it fits, the setting in fr, en, de, nl, it, es)
_SETTINGS: tuple[tuple[tuple[str, ...], tuple[str, str, str, str, str, str]], ...] = (
    (
        _ALL,
        (
            "en pleine campagne",
            "in the open countryside",
            "mitten auf dem Land",
            "midden op het platteland",
            "in piena campagna",
            "en pleno campo",
        ),
    ),
    (
        _ALL,
        (
            "au centre du bourg",
            "in the village centre",
            "im Ortskern",
            "in het dorpscentrum",
            "nel centro del paese",
            "en el centro del pueblo",
        ),
    ),
    (
        _ALL,
        (
            "dans un cadre verdoyant et calme",
            "in quiet green surroundings",
            "in ruhiger, grüner Umgebung",
            "in een rustige, groene omgeving",
            "in un ambiente verde e tranquillo",
            "en un entorno verde y tranquilo",
        ),
    ),
    (
        ("14", "50"),
        (
            "près des plages du Débarquement",
            "near the D-Day landing beaches",
            "in der Nähe der Landungsstrände",
            "vlak bij de landingsstranden",
            "vicino alle spiagge dello Sbarco",
            "cerca de las playas del Desembarco",
        ),
    ),
    (
        ("14",),
        (
            "au cœur du pays d'Auge",
            "in the heart of the Pays d'Auge",
            "im Herzen des Pays d'Auge",
            "in het hart van het Pays d'Auge",
            "nel cuore del Pays d'Auge",
            "en el corazón del Pays d'Auge",
        ),
    ),
    (
        ("14", "61"),
        (
            "aux portes de la Suisse normande",
            "on the edge of the Suisse Normande",
            "am Rande der Normannischen Schweiz",
            "aan de rand van de Suisse Normande",
            "alle porte della Svizzera normanna",
            "a las puertas de la Suiza normanda",
        ),
    ),
    (
        ("27", "76"),
        (
            "dans la vallée de la Seine",
            "in the Seine valley",
            "im Seinetal",
            "in het Seinedal",
            "nella valle della Senna",
            "en el valle del Sena",
        ),
    ),
    (
        ("27",),
        (
            "aux portes du Vexin normand",
            "on the edge of the Norman Vexin",
            "am Rande des normannischen Vexin",
            "aan de rand van de Normandische Vexin",
            "alle porte del Vexin normanno",
            "a las puertas del Vexin normando",
        ),
    ),
    (
        ("50",),
        (
            "face à la baie du Mont-Saint-Michel",
            "facing the bay of Mont-Saint-Michel",
            "gegenüber der Bucht des Mont-Saint-Michel",
            "tegenover de baai van de Mont-Saint-Michel",
            "di fronte alla baia di Mont-Saint-Michel",
            "frente a la bahía del Mont-Saint-Michel",
        ),
    ),
    (
        ("50",),
        (
            "dans le Cotentin, entre terre et mer",
            "in the Cotentin, between land and sea",
            "im Cotentin, zwischen Land und Meer",
            "in de Cotentin, tussen land en zee",
            "nel Cotentin, tra terra e mare",
            "en el Cotentin, entre tierra y mar",
        ),
    ),
    (
        ("61",),
        (
            "dans le parc naturel régional du Perche",
            "in the Perche regional nature park",
            "im regionalen Naturpark Perche",
            "in het regionale natuurpark Perche",
            "nel parco naturale regionale del Perche",
            "en el parque natural regional del Perche",
        ),
    ),
    (
        ("76",),
        (
            "sur la Côte d'Albâtre",
            "on the Alabaster Coast",
            "an der Alabasterküste",
            "aan de Albastkust",
            "sulla Costa d'Alabastro",
            "en la Costa de Alabastro",
        ),
    ),
)

# What a description update adds: this season's news.
_NEWS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "Nouveauté de la saison : accès wifi gratuit.",
        "New this season: free wifi.",
        "Neu in dieser Saison: kostenloses WLAN.",
        "Nieuw dit seizoen: gratis wifi.",
        "Novità della stagione: wifi gratuito.",
        "Novedad de la temporada: wifi gratuito.",
    ),
    (
        "Nouveauté de la saison : bornes de recharge pour vélos électriques.",
        "New this season: charging points for e-bikes.",
        "Neu in dieser Saison: Ladestationen für E-Bikes.",
        "Nieuw dit seizoen: laadpunten voor elektrische fietsen.",
        "Novità della stagione: colonnine di ricarica per bici elettriche.",
        "Novedad de la temporada: puntos de recarga para bicicletas eléctricas.",
    ),
    (
        "Nouveauté de la saison : paiement sans contact accepté.",
        "New this season: contactless payment accepted.",
        "Neu in dieser Saison: kontaktloses Bezahlen möglich.",
        "Nieuw dit seizoen: contactloos betalen mogelijk.",
        "Novità della stagione: pagamento contactless accettato.",
        "Novedad de la temporada: se acepta el pago sin contacto.",
    ),
    (
        "Nouveauté de la saison : nos amis les animaux sont les bienvenus.",
        "New this season: pets are welcome.",
        "Neu in dieser Saison: Haustiere sind willkommen.",
        "Nieuw dit seizoen: huisdieren zijn welkom.",
        "Novità della stagione: gli animali domestici sono i benvenuti.",
        "Novedad de la temporada: las mascotas son bienvenidas.",
    ),
)

_LANGUAGE_INDEX: Mapping[str, int] = MappingProxyType(
    {"fr": 0, "en": 1, "de": 2, "nl": 3, "it": 4, "es": 5}
)
_AT: Mapping[str, str] = MappingProxyType(
    {"en": "in", "de": "in", "nl": "in", "it": "a", "es": "en"}
)

FIRST_NAMES: tuple[str, ...] = (
    "Marie",
    "Jean",
    "Pierre",
    "Anne",
    "Sophie",
    "Nicolas",
    "Camille",
    "Thomas",
    "Isabelle",
    "François",
    "Catherine",
    "Julien",
    "Nathalie",
    "Philippe",
    "Sylvie",
    "Laurent",
    "Céline",
    "Olivier",
    "Valérie",
    "Mathieu",
    "Élodie",
    "Hélène",
)
SURNAMES: tuple[str, ...] = (
    "Lefebvre",
    "Leroy",
    "Marie",
    "Lecoq",
    "Lemoine",
    "Duval",
    "Hébert",
    "Lebrun",
    "Leblond",
    "Guérin",
    "Lecomte",
    "Lefèvre",
    "Hamel",
    "Lemaître",
    "Legrand",
    "Jouan",
    "Osmont",
    "Letellier",
    "Anquetil",
    "Delamare",
)

_VOWELS = "AEIOUYÉÈÊÂÎÔÛaeiouyéèêâîôûHh"


def of_commune(commune: str) -> str:
    """ "de Caen", "d'Étretat", "du Havre", "des Andelys" (the French *de* with elision)."""
    if commune.startswith("Le "):
        return "du " + commune[3:]
    if commune.startswith("Les "):
        return "des " + commune[4:]
    if commune[0] in _VOWELS:
        return "d'" + commune
    return "de " + commune


def in_commune(commune: str) -> str:
    """ "à Caen", "au Havre", "aux Andelys" (the French *à* with contraction)."""
    if commune.startswith("Le "):
        return "au " + commune[3:]
    if commune.startswith("Les "):
        return "aux " + commune[4:]
    return "à " + commune


def offer_name(offer_type: OfferType, commune: str, rng: random.Random) -> str:
    patterns = _NAME_PATTERNS[offer_type]
    pattern = patterns[rng.randrange(len(patterns))]
    return pattern.format(
        de=of_commune(commune),
        a=in_commune(commune),
        commune=commune,
        saint=_SAINTS[rng.randrange(len(_SAINTS))],
    )


def descriptions(
    offer_type: OfferType,
    name: str,
    commune: str,
    department: str,
    rng: random.Random,
    *,
    with_news: bool = False,
) -> tuple[LocalizedText, ...]:
    """French always, other languages with decreasing odds, some marked machine-translated."""
    settings = tuple(texts for where, texts in _SETTINGS if department in where)
    setting = settings[rng.randrange(len(settings))]
    news = _NEWS[rng.randrange(len(_NEWS))] if with_news else None
    nouns = _TYPE_NOUNS[offer_type]
    highlights = _HIGHLIGHTS[offer_type]

    def text(lang: str) -> str:
        i = _LANGUAGE_INDEX[lang]
        place = in_commune(commune) if lang == "fr" else f"{_AT[lang]} {commune}"
        colon = " :" if lang == "fr" else ":"
        sentence = f"{name}{colon} {nouns[i]} {place}, {setting[i]}. {highlights[i]}"
        return sentence if news is None else f"{sentence} {news[i]}"

    result = [LocalizedText("fr", text("fr"))]
    for lang, odds in TRANSLATION_ODDS:
        if rng.random() < odds:
            machine = rng.random() < MACHINE_TRANSLATION_ODDS
            source = TranslationSource.MACHINE if machine else TranslationSource.HUMAN
            result.append(LocalizedText(lang, text(lang), source))
    return tuple(result)


def person(rng: random.Random) -> tuple[str, str]:
    """A (first name, surname) pair common in Normandy."""
    return FIRST_NAMES[rng.randrange(len(FIRST_NAMES))], SURNAMES[rng.randrange(len(SURNAMES))]


def slug(text: str, limit: int = 40) -> str:
    """A host-name label: ASCII, lower-case, hyphenated ("Hôtel d'Étretat" -> hotel-d-etretat)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        words = words[:limit].rsplit("-", 1)[0] if "-" in words[:limit] else words[:limit]
    return words or "offre"
