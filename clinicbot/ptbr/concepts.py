"""Hand-written Portuguese concept lexicon: words that mean the same thing to the clinic.

A lexical classifier only knows the words its training data happened to use: "jamais" is a
no and "bjs" a goodbye only if some example says so. These lists name what a receptionist
knows anyway, so that a word seen in no example still votes for its concept. Entries are
accent-folded and lower-case, with chat abbreviations already expanded (``vc`` -> ``voce``),
as ``concept_cues`` compares them; several words are a phrase matched word by word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence


def _phrases(listing: str) -> frozenset[tuple[str, ...]]:
    """The comma-separated phrases of ``listing``, each as a tuple of words."""
    return frozenset(tuple(entry.split()) for entry in listing.split(",") if entry.strip())


CONCEPTS: dict[str, frozenset[tuple[str, ...]]] = {
    "yes": _phrases(
        """
        sim, claro, certo, certeza, ctz, ok, okay, oks, okk, beleza, isso, exato, exatamente,
        correto, perfeito, fechado, fechou, combinado, confirmo, confirmado, confirmada, bora,
        vamos, demorou, positivo, afirmativo, aceito, concordo, uhum, aham, yes, yep, yeah,
        show, top, massa, otimo, otima, tranquilo, joia, pode ser, esta bom, ta bom, com
        certeza, manda ver, isso mesmo, pode sim, quero sim, por mim ok, 👍, 👌, ✅, ✔, ☑, 🆗, 🙆
        """
    ),
    "no": _phrases(
        """
        nao, nope, no, nem, nunca, jamais, negativo, recuso, discordo, incorreto, incorreta,
        errado, errada, dispenso, de jeito nenhum, de forma alguma, de modo algum, nem pensar,
        nada disso, melhor nao, deixa para la, deixa pra la, esquece, nao precisa, mais nada, so
        isso, 👎, ❌, 🚫, ✖, 🙅
        """
    ),
    "greeting": _phrases(
        """
        oi, oii, oiii, oie, ola, alo, hey, hi, hello, salve, opa, eai, eae, iae, iai, e ai,
        fala, falae, bom dia, boa tarde, boa noite, bd, tudo bem, tudo bom, tudo certo, tudo
        joia, como vai, como vao, bao
        """
    ),
    "farewell": _phrases(
        """
        tchau, tchauzinho, xau, xauu, tchao, bye, adeus, ate mais, ate logo, ate breve, ate
        amanha, ate a proxima, ate mais tarde, falou, flw, fui, abs, abraco, abracos, bjs, bj,
        bjo, bjos, beijo, beijos, se cuida, fica com deus, fique com deus, va com deus, vai com
        deus, nos vemos, a gente se ve, boa semana, bom fim de semana, bom descanso, tenha um
        bom, tenha uma boa, encerrar, encerra, encerrado, 👋
        """
    ),
    "thanks": _phrases(
        """
        obrigado, obrigada, brigado, brigada, brigadao, valeu, agradeco, agradecido, agradecida,
        grato, grata, gratidao, thanks, thank, thx, tks, deus te abencoe, deus abencoe, 🙏, ❤, 🥰
        """
    ),
    "laughter": _phrases(
        """
        rs, rsrs, rsrsrs, lol, 😂, 🤣, 😆, 😅
        """
    ),
    "human": _phrases(
        """
        atendente, humano, humana, pessoa, alguem, recepcionista, recepcao, secretaria,
        funcionario, funcionaria, operador, operadora, gente, de verdade, de carne e osso
        """
    ),
    "machine": _phrases(
        """
        robo, bot, chatbot, maquina, automatico, automatica, automatizado, virtual, ia,
        inteligencia artificial, gravacao, gravada, programa, computador, chatgpt, sistema
        """
    ),
    "money": _phrases(
        """
        pix, cartao, credito, debito, dinheiro, especie, boleto, parcela, parcelas, parcelar,
        parcelado, parcelamento, desconto, descontos, promocao, nota fiscal, nf, recibo,
        reembolso, reembolsar, pagar, pago, paga, pagamento, pagamentos, preco, precos, valor,
        valores, custa, custo, custam, cobra, cobram, cobrado, taxa, coparticipacao, gratis,
        gratuito, gratuita, caro, cara, barato, reais, r$, sinal, adiantado
        """
    ),
    "place": _phrases(
        """
        endereco, rua, avenida, bairro, cep, mapa, maps, localizacao, onde, fica, chegar, chego,
        perto, referencia, estacionamento, estacionar, estaciona, manobrista, elevador, rampa,
        acessibilidade, acessivel, cadeira de rodas, escada, andar, predio, metro, onibus, uber,
        waze
        """
    ),
    "opening_hours": _phrases(
        """
        abre, abrem, abrir, aberto, aberta, fecha, fecham, funciona, funcionam, funcionamento,
        expediente, plantao, feriado, feriados, ate que horas, que horas
        """
    ),
    "cancel": _phrases(
        """
        cancelar, cancela, cancele, cancelamento, cancelo, desmarcar, desmarca, desmarque,
        anular, anula, excluir, exclui, apagar, apaga, deletar, remover, nao vou poder ir, nao
        vou comparecer, nao vou conseguir ir, nao posso ir
        """
    ),
    "reschedule": _phrases(
        """
        remarcar, remarca, remarque, remarcacao, reagendar, reagenda, reagendamento, mudar,
        muda, mudanca, trocar, troca, adiar, adia, antecipar, antecipa, transferir, passar para,
        passa para, em vez de, ao inves de, outro dia, outra data, outro horario
        """
    ),
    "waiting_list": _phrases(
        """
        lista de espera, fila, espera, vagar, desistencia, desistencias, encaixe, encaixar, me
        avisa, me avise, avisar, se abrir, se liberar, se surgir
        """
    ),
    "stop": _phrases(
        """
        parar, pare, para tudo, stop, sair, sai, chega, interromper, desisto, menu, recomecar,
        comecar de novo, reiniciar, do zero, do comeco, voltar ao inicio, voltar para o inicio,
        volta para o inicio, volta ao inicio, voltar ao menu, volta ao menu, volta para o menu
        """
    ),
    "off_topic": _phrases(
        """
        piada, meme, futebol, jogo, time, flamengo, corinthians, palmeiras, copa, novela, filme,
        serie, musica, cantar, canta, politica, presidente, votar, eleicao, signo, namora,
        namorar, casar, chover, chuva, calor, frio, previsao, receita, pizza, pizzaria, lanche,
        dolar, emprego, curriculo, estagio, vender, vendendo, promocao, salao, unha, unhas,
        cabelo, manicure, pet, cachorro, gato, tosa, wifi, senha, ingresso, show, banco,
        farmacia, engano, errado, errada, corrente, golpe, sorteio, premio, bitcoin, dever de
        casa, traduz
        """
    ),
}

_LAUGHTER = re.compile(r"^(?:k{3,}|(?:ha){2,}h?|(?:he){2,}h?|(?:hi){2,}|(?:rs){1,})$")
# Phrase -> the concepts listing it, so that matching is one lookup per candidate phrase.
_CONCEPTS_OF: dict[tuple[str, ...], list[str]] = {}
for _name, _phrases_of_concept in CONCEPTS.items():
    for _phrase in _phrases_of_concept:
        _CONCEPTS_OF.setdefault(_phrase, []).append(_name)
_MAX_PHRASE = max(len(phrase) for phrase in _CONCEPTS_OF)


def concept_cues(words: Sequence[str]) -> list[str]:
    """``_c_<concept>_`` once per phrase of ``words`` that the lexicon lists.

    ``words`` are folded, abbreviation-expanded forms; the longest listed phrase starting at a
    word wins, so "nao precisa" counts as one "no", not two.
    """
    cues: list[str] = []
    index = 0
    while index < len(words):
        step = 1
        if _LAUGHTER.match(words[index]):
            cues.append("_c_laughter_")
        for length in range(min(_MAX_PHRASE, len(words) - index), 0, -1):
            matched = _CONCEPTS_OF.get(tuple(words[index : index + length]))
            if matched:
                cues.extend(f"_c_{name}_" for name in matched)
                step = length
                break
        index += step
    return cues


def is_symbols_only(text: str) -> bool:
    """Whether ``text`` has no letter or digit at all ("...", "???", "👍👍")."""
    return not any(unicodedata.category(ch)[0] in "LN" for ch in text)
