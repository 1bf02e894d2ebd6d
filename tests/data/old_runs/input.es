LOS proverbios de Salomón, hijo de David, rey de Israel:
Para entender sabiduría y doctrina; para conocer las razones prudentes;
Para recibir el consejo de prudencia, justicia, y juicio y equidad;
Para dar sagacidad á los simples, y á los jóvenes inteligencia y cordura.
Oirá el sabio, y aumentará el saber; y el entendido adquirirá consejo;
Para entender parábola y declaración; palabras de sabios, y sus dichos oscuros.
El principio de la sabiduría es el temor de Jehová: los insensatos desprecian la sabiduría y la enseñanza.
Oye, hijo mío, la doctrina de tu padre, y no desprecies la dirección de tu madre:
Porque adorno de gracia serán á tu cabeza, y collares á tu cuello.
Hijo mío, si los pecadores te quisieren engañar, no consientas.
Si dijeren: Ven con nosotros, pongamos asechanzas á la sangre, acechemos sin motivo al inocente;
Los tragaremos vivos como el sepulcro, y enteros, como los que caen en sima;
