"""Rasa's NLG: the clinic service's template endpoint, with ``domain.yml`` as the fallback.

``endpoints.yml`` names this class under ``nlg:``. Each response is asked of the clinic
service (``POST /nlg``), where the clinic edits its texts (clinicbot/messages). When the service
does not answer in :data:`TIMEOUT_SECONDS`, or answers with an error, the response is made
from ``domain.yml`` as Rasa would without an NLG endpoint, and a warning logged: the clinic's
edits are briefly not applied, but the patient is still answered.

The request carries the tracker without its events (the endpoint needs the sender and slots);
Rasa's stock callback sends every event of the session on each response.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0


class TemplateServiceNLG(CallbackNaturalLanguageGenerator):
    def __init__(self, endpoint_config: EndpointConfig, domain: Domain | None = None) -> None:
        super().__init__(endpoint_config)
        self._fallback = TemplatedNaturalLanguageGenerator((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        body = {
            "response": utter_action,
            "arguments": kwargs,
            "tracker": tracker.current_state(EventVerbosity.NONE),
            "channel": {"name": output_channel},
        }
        try:
            response = await self.nlg_endpoint.request(
                method="post", json=body, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            )
            if isinstance(response, dict) and self.validate_response(response):
                return response
            raise ValueError("not an NLG response")
        except Exception as error:
            logger.warning(
                "NLG endpoint failed for %s (%s): answering from domain.yml",
                utter_action,
                type(error).__name__,
            )
        generated: dict[str, Any] | None = await self._fallback.generate(
            utter_action, tracker, output_channel, **kwargs
        )
        return generated
